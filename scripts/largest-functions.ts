/**
 * The N largest functions under a source folder, by lines (first to last line of the body, the
 * signature included), read with the TypeScript compiler's parser: function declarations and
 * expressions, arrow functions, methods, constructors and accessors. A function nested in another
 * counts in both (the outer one's lines include it). Used to show where the code needs splitting.
 *
 *   node scripts/largest-functions.ts [--n 15] [--min-lines 0] [DIR=src]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

interface Fn {
  file: string;
  line: number;
  name: string;
  lines: number;
}

function args(argv: string[]): { dir: string; n: number; minLines: number } {
  let dir = 'src';
  let n = 15;
  let minLines = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (flag: string): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${flag}: expected an integer >= 0, got ${argv[i]}`);
      return v;
    };
    if (a === '--n') n = num(a);
    else if (a === '--min-lines') minLines = num(a);
    else if (a.startsWith('--')) throw new Error(`unknown option ${a} (allowed: --n, --min-lines)`);
    else dir = a;
  }
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${dir}: not a folder`);
  return { dir, n, minLines };
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') && !e.name.endsWith('.wasm.ts')) out.push(p);
  }
  return out;
}

/** A readable name: the declared one, else the variable, property or class member it is assigned to. */
function nameOf(node: ts.Node, sf: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  const own = named.name ? named.name.getText(sf) : ts.isConstructorDeclaration(node) ? 'constructor' : undefined;
  const cls = node.parent && ts.isClassLike(node.parent) ? `${node.parent.name?.getText(sf) ?? '(class)'}.` : '';
  if (own) return cls + own;
  const p = node.parent;
  if (p && (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p))) return p.name.getText(sf);
  if (p && ts.isCallExpression(p)) return `(callback of ${p.expression.getText(sf).replace(/\s+/g, '')})`.replace(/^(.{60}).+\)$/, '$1...)');
  return '(anonymous)';
}

function functionsIn(file: string, root: string): Fn[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: Fn[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      out.push({ file: path.relative(root, file), line: start + 1, name: nameOf(node, sf), lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const { dir, n, minLines } = args(process.argv.slice(2));
const root = path.dirname(path.resolve(dir));
const all = sourceFiles(path.resolve(dir)).flatMap((f) => functionsIn(f, root));
const top = all.filter((f) => f.lines >= minLines).sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file)).slice(0, n);
const over = (m: number) => all.filter((f) => f.lines > m).length;
console.log(`${all.length} functions in ${dir}; over 50 lines: ${over(50)}, over 100: ${over(100)}`);
for (const f of top) console.log(`${String(f.lines).padStart(5)}  ${f.name}  ${f.file}:${f.line}`);

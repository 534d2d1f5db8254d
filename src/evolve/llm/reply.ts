/**
 * The model's reply: `## Analysis`, `## Strategy`, `## Changes` (`### FILE name` + one fenced whole
 * file, or `### EDIT name` + SEARCH/REPLACE blocks) and an optional `## Knobs` JSON object, in that
 * order (the analysis must come before the code). parseReply turns the text into a zod-validated
 * Reply; applyReply applies it to the parent's files. Anything wrong is a ReplyError whose message
 * is fed back to the model once (repair.md) and then recorded as the failed sample's reason: an
 * edit whose SEARCH text matches zero or several times is an error, never skipped.
 */
import { z } from 'zod';
import type { ModuleManifest } from '../../bundle/module-manifest.ts';

export class ReplyError extends Error {
  override name = 'ReplyError';
}

const changeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('file'), path: z.string().min(1), content: z.string().min(1, 'the file is empty') }),
  z.object({ kind: z.literal('edit'), path: z.string().min(1), search: z.string().min(1, 'SEARCH is empty'), replace: z.string() }),
]);
export type Change = z.infer<typeof changeSchema>;

export const replySchema = z.object({
  analysis: z.string().trim().min(40, 'the analysis is missing or shorter than 40 characters (explain why the fast variants are fast)'),
  strategy: z.string().trim().min(10, 'the strategy is missing or too short'),
  changes: z.array(changeSchema),
  knobValues: z.record(z.string(), z.number()).optional(),
}).refine((r) => r.changes.length > 0 || (r.knobValues !== undefined && Object.keys(r.knobValues).length > 0), {
  message: "no changes: expected '### FILE <name>' or '### EDIT <name>' blocks under '## Changes', or a '## Knobs' JSON object",
  path: ['changes'],
});
export type Reply = z.infer<typeof replySchema>;

interface Section {
  title: string;
  body: string;
}

/** Splits on level-2 headings outside code fences. */
function sections(text: string): Section[] {
  const out: Section[] = [];
  let cur: Section | undefined;
  let inFence = false;
  for (const line of text.split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const h = !inFence && /^##\s+(.+?)\s*#*\s*$/.exec(line);
    if (h && !line.startsWith('###')) {
      cur = { title: h[1].toLowerCase(), body: '' };
      out.push(cur);
    } else if (cur) cur.body += `${line}\n`;
  }
  return out;
}

/** Content of the one fenced block in `body` (first fence to its closing fence). */
function fenced(body: string, where: string): string {
  const lines = body.split('\n');
  const open = lines.findIndex((l) => /^\s*```/.test(l));
  if (open < 0) throw new ReplyError(`${where}: expected the file in a \`\`\` fenced block`);
  const tick = /^\s*(`{3,})/.exec(lines[open])![1];
  let close = -1;
  for (let i = lines.length - 1; i > open; i--) if (lines[i].trim() === tick) { close = i; break; }
  if (close < 0) throw new ReplyError(`${where}: the fenced block is not closed`);
  return `${lines.slice(open + 1, close).join('\n')}\n`;
}

const SEARCH = /^<{5,9}\s*SEARCH\s*$/;
const DIVIDER = /^={5,9}\s*$/;
const REPLACE = /^>{5,9}\s*REPLACE\s*$/;

function editBlocks(body: string, path: string): Change[] {
  const lines = body.split('\n').filter((l) => !/^\s*```/.test(l));
  const out: Change[] = [];
  let i = 0;
  let n = 0;
  while (i < lines.length) {
    if (!SEARCH.test(lines[i])) { i++; continue; }
    n++;
    const where = `EDIT ${path} block ${n}`;
    const div = lines.findIndex((l, k) => k > i && DIVIDER.test(l));
    const end = lines.findIndex((l, k) => k > i && REPLACE.test(l));
    const nextSearch = lines.findIndex((l, k) => k > i && SEARCH.test(l));
    if (div < 0 || end < 0 || end < div || (nextSearch >= 0 && nextSearch < end)) {
      throw new ReplyError(`${where}: malformed, expected <<<<<<< SEARCH, =======, >>>>>>> REPLACE in that order`);
    }
    out.push({ kind: 'edit', path, search: lines.slice(i + 1, div).join('\n'), replace: lines.slice(div + 1, end).join('\n') });
    i = end + 1;
  }
  if (out.length === 0) throw new ReplyError(`EDIT ${path}: no <<<<<<< SEARCH / ======= / >>>>>>> REPLACE block`);
  return out;
}

function changesOf(body: string): Change[] {
  const out: Change[] = [];
  const parts = body.split(/^###\s+/m).slice(1);
  for (const part of parts) {
    const nl = part.indexOf('\n');
    const head = (nl < 0 ? part : part.slice(0, nl)).trim();
    const rest = nl < 0 ? '' : part.slice(nl + 1);
    const m = /^(FILE|EDIT)\b[:\s]+`?([^`\s]+)`?/i.exec(head);
    if (!m) throw new ReplyError(`## Changes: unknown heading '### ${head.slice(0, 60)}' (expected '### FILE <name>' or '### EDIT <name>')`);
    const path = m[2];
    if (m[1].toUpperCase() === 'FILE') out.push({ kind: 'file', path, content: fenced(rest, `FILE ${path}`) });
    else out.push(...editBlocks(rest, path));
  }
  return out;
}

function knobsOf(body: string): Record<string, number> | undefined {
  const text = /```(?:json)?\s*\n([\s\S]*?)```/.exec(body)?.[1] ?? body;
  if (text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ReplyError(`## Knobs: not a JSON object (${(e as Error).message})`);
  }
  const r = z.record(z.string(), z.number()).safeParse(parsed);
  if (!r.success) throw new ReplyError(`## Knobs: expected {"knob": number, ...}: ${r.error.issues[0].path.join('.') || '(root)'}: ${r.error.issues[0].message}`);
  return r.data;
}

export function parseReply(raw: string): Reply {
  const text = raw.replace(/\r\n/g, '\n');
  const secs = sections(text);
  const find = (name: string) => secs.findIndex((s) => s.title.startsWith(name));
  const [ia, is, ic, ik] = [find('analysis'), find('strategy'), find('changes'), find('knobs')];
  if (ia < 0 && is < 0 && ic < 0 && ik < 0) throw new ReplyError("no '## Analysis', '## Strategy', '## Changes' sections: the reply does not follow the format");
  if (ia < 0) throw new ReplyError("no '## Analysis' section (it must come first)");
  if (ic >= 0 && ic < ia) throw new ReplyError("'## Changes' comes before '## Analysis' (write the analysis first)");
  const r = replySchema.safeParse({
    analysis: secs[ia].body,
    strategy: is >= 0 ? secs[is].body : '',
    changes: ic >= 0 ? changesOf(secs[ic].body) : [],
    knobValues: ik >= 0 ? knobsOf(secs[ik].body) : undefined,
  });
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ReplyError(`${i.path.join('.') || 'reply'}: ${i.message}`);
  }
  return r.data;
}

function occurrences(hay: string, needle: string): number[] {
  const at: number[] = [];
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) at.push(i);
  return at;
}

/** Resolves a file name from the reply to the variant's path: the exact path, or its base name when that is unique. */
function resolvePath(name: string, paths: string[]): string {
  if (paths.includes(name)) return name;
  const base = name.split('/').pop()!;
  const hits = paths.filter((p) => p.split('/').pop() === base);
  if (hits.length === 1) return hits[0];
  throw new ReplyError(`'${name}' is not a file of this module (files: ${paths.join(', ')})`);
}

export interface Applied {
  files: Record<string, string>;
  knobValues: Record<string, number>;
}

/**
 * The new variant's files and knobs: the parent's, with the reply's whole files, edits (in order,
 * each applied to the result of the previous) and knob values. Knobs are checked against the
 * manifest's ranges; a reply that changes nothing is an error too.
 */
export function applyReply(parent: Applied, reply: Reply, manifest: ModuleManifest): Applied {
  const paths = Object.keys(parent.files);
  const files = { ...parent.files };
  const editNo: Record<string, number> = {};
  for (const c of reply.changes) {
    const p = resolvePath(c.path, paths);
    if (c.kind === 'file') {
      files[p] = c.content;
      continue;
    }
    const n = (editNo[p] = (editNo[p] ?? 0) + 1);
    const hits = occurrences(files[p], c.search);
    if (hits.length !== 1) {
      const first = c.search.split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 80) ?? '';
      throw new ReplyError(hits.length === 0
        ? `EDIT ${p} block ${n}: SEARCH text not found in the current file (it must match exactly, whitespace included; it starts '${first}')`
        : `EDIT ${p} block ${n}: SEARCH text occurs ${hits.length} times (it must occur exactly once; add surrounding lines; it starts '${first}')`);
    }
    files[p] = files[p].slice(0, hits[0]) + c.replace + files[p].slice(hits[0] + c.search.length);
  }
  const knobValues = { ...parent.knobValues };
  for (const [name, v] of Object.entries(reply.knobValues ?? {})) {
    const k = manifest.knobs.find((x) => x.name === name);
    if (!k) throw new ReplyError(`## Knobs: unknown knob '${name}' (knobs: ${manifest.knobs.map((x) => x.name).join(', ') || 'none'})`);
    if (!Number.isFinite(v) || v < k.min || v > k.max || (k.integer && !Number.isInteger(v))) throw new ReplyError(`## Knobs: ${name} = ${v} is outside [${k.min}, ${k.max}]${k.integer ? ' or not an integer' : ''}`);
    knobValues[name] = v;
  }
  const same = paths.every((p) => files[p] === parent.files[p]) && Object.keys(knobValues).every((n) => knobValues[n] === parent.knobValues[n]);
  if (same) throw new ReplyError('the changes leave the variant identical to the current best');
  return { files, knobValues };
}

/**
 * A quiet normal run. Dawn's native code prints a "Warning: max... artificially reduced" line per
 * adapter and device straight to fd 2, and its API cannot silence them, so the CLI runs itself as
 * a child with stderr piped through this filter (the process boundary is the only place to catch
 * native writes). `--verbose` keeps them. Everything else passes through unbuffered, so progress
 * bars still animate.
 */
import { spawn } from 'node:child_process';
import { Transform, type TransformCallback } from 'node:stream';
import os from 'node:os';

/**
 * Lines Dawn prints that say nothing to a user of this tool: the limit clamps, and adapter
 * discovery probing an OpenGL library a GPU server need not have (Vulkan is used there).
 */
export const DAWN_NOISE = [
  /^Warning: max\w+ artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/,
  /^Warning: Failed to load lib(EGL|GL|GLESv2)\.so(\.\d+)?: ".*cannot open shared object file: No such file or directory"\.$/,
];
/** The indented detail lines (and the blank line) Dawn prints under a warning. */
const DETAIL = /^( - While trying to discover a BackendType::\w+ adapter\.|    at \w+ \(.*\)|)$/;
const PREFIX = 'Warning: ';
/** Set in the child so it does not relaunch itself. */
export const FILTERED_ENV = 'CRINN_STDERR_FILTERED';

/**
 * Drops DAWN_NOISE lines. A line is held back only while it could still become one (it starts
 * with "Warning: "); any other text is forwarded as soon as it arrives.
 */
export class DawnNoiseFilter extends Transform {
  private pending = '';
  /** True right after a dropped warning: its detail lines go too. */
  private inNoise = false;

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, done: TransformCallback): void {
    let text = this.pending + chunk.toString();
    this.pending = '';
    let out = '';
    while (text.length > 0) {
      const nl = text.indexOf('\n');
      if (nl < 0) {
        if (PREFIX.startsWith(text) || text.startsWith(PREFIX) || (this.inNoise && text.length < 512 && /^( |$)/.test(text))) this.pending = text;
        else out += text;
        break;
      }
      const line = text.slice(0, nl);
      if (DAWN_NOISE.some((re) => re.test(line))) this.inNoise = true;
      else if (this.inNoise && DETAIL.test(line)) this.inNoise = line !== '';
      else {
        this.inNoise = false;
        out += `${line}\n`;
      }
      text = text.slice(nl + 1);
    }
    done(null, out);
  }

  override _flush(done: TransformCallback): void {
    done(null, this.pending);
  }
}

/**
 * Runs this CLI again as a child whose stderr goes through DawnNoiseFilter; resolves with the
 * exit code to use. Returns undefined when the current process should do the work itself.
 */
export async function relaunchFiltered(entry: string, argv: string[]): Promise<number | undefined> {
  if (process.env[FILTERED_ENV] || argv.includes('--verbose')) return undefined;
  const env: NodeJS.ProcessEnv = { ...process.env, [FILTERED_ENV]: '1' };
  if (process.stderr.isTTY) env.CRINN_STDERR_COLUMNS = String(process.stderr.columns || 80);
  const child = spawn(process.execPath, [...process.execArgv, entry, ...argv.slice(2)], { env, stdio: ['inherit', 'inherit', 'pipe'] });
  child.stderr!.pipe(new DawnNoiseFilter()).pipe(process.stderr, { end: false });
  // A terminal's Ctrl-C already reaches the child (same process group); kill(1) of the parent
  // alone does not, so forward it.
  const forward = (sig: NodeJS.Signals) => () => { child.kill(sig); };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 1));
    });
  });
}

/** In the child: stderr is a pipe to the filter, but progress bars should still draw when the user's stderr is a terminal. */
export function adoptParentTerminal(): void {
  const cols = Number(process.env.CRINN_STDERR_COLUMNS);
  if (!process.env[FILTERED_ENV] || !(cols > 0) || process.stderr.isTTY) return;
  Object.assign(process.stderr, { isTTY: true, columns: cols });
}

/**
 * Process-level isolation for the sandbox child, found once per parent process and cached:
 * - a network namespace (Node 22's permission model does not cover sockets): `unshare --net`
 *   as root, `unshare --user --map-root-user --net` otherwise;
 * - a PID namespace, so the child cannot signal the evaluator (a root child could otherwise
 *   `process.kill(ppid)`);
 * - a mount namespace in which every filesystem (but /proc, /sys, /dev) is read-only, /run and
 *   /tmp/.X11-unix are hidden, and the scratch folder is a private, size-capped `noexec` tmpfs.
 *   Why: under `--allow-addons`, `process.dlopen` loads a `.node` file the JS side may not even
 *   read, so a variant could write an ELF into scratch and run native code outside the model;
 *   and the model does not cover Unix sockets: a child could connect to /run's (systemd, docker,
 *   dbus) or bind socket files anywhere. Sockets elsewhere on the filesystem stay reachable.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';

export type IsolationMethod = 'unshare' | 'unshare-user' | 'none';

const NAMESPACE_FLAGS: Record<Exclude<IsolationMethod, 'none'>, string[]> = {
  unshare: ['--net'],
  'unshare-user': ['--user', '--map-root-user', '--net'],
};

// Runs inside the new mount namespace as `sh -c JAIL sh SCRATCH MIB CACHE COMMAND...`, then becomes
// the Node child. Only the root filesystem's remount must succeed; other mounts are best effort.
// CACHE (may be empty) stays writable for the GPU driver's shader cache: bound onto itself before
// everything else turns read-only, and skipped by that loop. Node's permission model still keeps
// the child's JavaScript out of it; only the driver (native code) writes there.
const JAIL = `set -e
scratch="$1"; mib="$2"; cache="$3"; shift 3
if [ -n "$cache" ]; then mount --bind "$cache" "$cache"; fi
for d in /run /tmp/.X11-unix; do
  if [ -d "$d" ] && [ ! -L "$d" ]; then mount -t tmpfs -o size=4k,mode=0555,ro crinn-hidden "$d"; fi
done
awk '{print $2}' /proc/self/mounts | while read -r m; do
  case "$m" in /proc*|/sys*|/dev*|*\\\\*) continue ;; esac
  if [ -n "$cache" ] && [ "$m" = "$cache" ]; then continue; fi
  mount -o remount,bind,ro "$m" 2>/dev/null || [ "$m" != / ]
done
if [ -n "$scratch" ]; then mount -t tmpfs -o "size=\${mib}m,mode=0700,noexec,nosuid,nodev" crinn-scratch "$scratch"; fi
exec "$@"`;

let detected: IsolationMethod | undefined;
let deathSignal: string[] | undefined;

/**
 * `setpriv --pdeathsig KILL` where util-linux has it: the child dies with the parent even when the
 * parent is killed outright (no 'exit' handler runs) and the child's JS thread is stuck in a loop.
 */
function deathSignalPrefix(): string[] {
  deathSignal ??= spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0 ? ['setpriv', '--pdeathsig', 'KILL'] : [];
  return deathSignal;
}

function works(method: Exclude<IsolationMethod, 'none'>): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'crinn-ns-probe-'));
  try {
    const r = spawnSync('unshare', [...namespacePrefix(method), '--', 'sh', '-c', JAIL, 'sh', dir, '1', '', 'true'], { stdio: 'ignore', timeout: 10_000 });
    return r.status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The namespace method that works on this machine ('none' where neither does). Probed once. */
export function isolationMethod(): IsolationMethod {
  if (detected) return detected;
  const order: Exclude<IsolationMethod, 'none'>[] = process.getuid?.() === 0 ? ['unshare', 'unshare-user'] : ['unshare-user', 'unshare'];
  detected = order.find(works) ?? 'none';
  return detected;
}

function namespacePrefix(method: Exclude<IsolationMethod, 'none'>): string[] {
  // --fork: the PID namespace applies to children only; --kill-child: the Node child dies with unshare.
  return [...NAMESPACE_FLAGS[method], '--pid', '--fork', '--kill-child', '--mount', '--propagation', 'private'];
}

/**
 * The argv that runs `command` isolated. Throws a UserError where no namespace works, unless
 * the caller explicitly accepted a child with network access (and no PID or mount isolation).
 */
export function isolatedArgv(
  command: string[],
  opts: { allowNetwork?: boolean; scratch?: string; scratchMiB: number; shaderCache?: string },
  method: IsolationMethod = isolationMethod(),
): { argv: string[]; method: IsolationMethod } {
  if (method === 'none') {
    if (!opts.allowNetwork) {
      throw new UserError("sandbox: no network namespace is available here (tried 'unshare --net' and 'unshare --user --map-root-user --net'); refusing to run untrusted code; pass allowNetwork: true (--allow-network) to run it with network access");
    }
    return { argv: [...deathSignalPrefix(), ...command], method };
  }
  return { argv: [...deathSignalPrefix(), 'unshare', ...namespacePrefix(method), '--', 'sh', '-c', JAIL, 'sh', opts.scratch ?? '', String(opts.scratchMiB), opts.shaderCache ?? '', ...command], method };
}

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A Node >= 22.13 binary (the permission model's stable flags): this one, else the npm `node` package's. */
export function nodeBinary(): string {
  const [maj, min] = process.versions.node.split('.').map(Number);
  if (maj > 22 || (maj === 22 && min >= 13)) return process.execPath;
  const local = join(PROJECT_ROOT, 'node_modules', '.bin', 'node');
  if (existsSync(local)) return local;
  throw new UserError(`sandbox: needs Node >= 22.13 for --permission; this is ${process.versions.node} and ${local} is missing (run 'npm ci')`);
}

/**
 * What a child needs to read to run project code that opens the GPU: the library sources,
 * the shipped shaders, dawn.node's package and the package.json that marks the project as ESM.
 * Never the project root as a whole: it holds datasets and their ground truth.
 * Each comes with its read allowances (readAllowances): a symlinked node_modules works.
 */
export function projectReadPaths(): string[] {
  return readAllowances(['src', 'shaders', 'package.json', join('node_modules', 'webgpu')].map((p) => join(PROJECT_ROOT, p)));
}

/**
 * The `--allow-fs-read` entries that let a child read `paths` as Node really reads them. Node's
 * permission model checks the path each fs call is given, and the module loader calls
 * realpathSync on every import, which readlinks each symlink on the way: a symlinked node_modules
 * (pnpm, a monorepo, a shared install) is denied at the link itself, then the import reads the
 * target. So each path comes with every symlink among its ancestors (the link itself, which the
 * permission model treats as its subtree by that spelling) and its real path. A path that does
 * not exist stays as given (the child's read of it fails on its own).
 * Shorter paths come first: Node 22's allow-list tree denies the exact path of an entry given
 * after one of its descendants (`--allow-fs-read=L/sub --allow-fs-read=L` denies readlink(L)).
 */
export function readAllowances(paths: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    const abs = resolve(p);
    out.add(abs);
    let real: string;
    try {
      real = realpathSync(abs);
    } catch {
      continue;
    }
    if (real === abs) continue;
    out.add(real);
    // The links on the way, outermost first: /a/b/node_modules -> ..., then any inside its target.
    let at: string = sep;
    for (const part of abs.split(sep).filter(Boolean)) {
      const next = join(at, part);
      const st = lstatSync(next, { throwIfNoEntry: false });
      if (st?.isSymbolicLink()) {
        out.add(next);
        at = realpathSync(next);
        out.add(at);
      } else at = next;
    }
  }
  return [...out].sort((a, b) => a.length - b.length);
}

/**
 * The folder the sandboxed children share as the GPU driver's shader cache (Mesa's
 * MESA_SHADER_CACHE_DIR): without one, every child compiles every kernel specialisation cold,
 * 10-30 s each on lavapipe, which was most of an evaluation's time.
 */
export function defaultShaderCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(process.env.HOME || tmpdir(), '.cache');
  return join(base, 'crinn', 'sandbox-shader-cache');
}

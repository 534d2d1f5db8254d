/**
 * The farm's Redis: the URL as `--farm` takes it, and the ioredis connection BullMQ runs on.
 * A farm runs only on a Redis with a password (the URL carries it) unless `--insecure` says the
 * network is trusted. Connections retry forever: a Redis restart pauses the farm, it does not end it.
 */
import { Redis } from 'ioredis';
import { UserError } from '../errors.ts';

export interface FarmUrl {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls: boolean;
  /** The URL without its password, for messages and the journal. */
  display: string;
}

const FORM = 'redis://[:PASSWORD@]HOST:PORT[/DB] (or rediss:// for TLS)';

export function parseFarmUrl(text: string, o: { insecure?: boolean; flag?: string } = {}): FarmUrl {
  const flag = o.flag ?? '--farm';
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UserError(`${flag}: expected ${FORM}, got '${text.replace(/:[^:@/]*@/, ':***@')}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UserError(`${flag}: expected ${FORM}, got scheme '${u.protocol}'`);
  if (!u.hostname) throw new UserError(`${flag}: expected ${FORM}: no host`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) throw new UserError(`${flag}: the database after the port must be a number, got '${dbText}'`);
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  if (password === undefined && !o.insecure) {
    throw new UserError(`${flag}: the URL carries no password; a farm runs on a Redis with one (redis://:PASSWORD@${u.hostname}:${port}, redis-server --requirepass), or pass --insecure on a trusted network`);
  }
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''), port, username, password, db: dbText === '' ? 0 : Number(dbText), tls: u.protocol === 'rediss:',
    display: `${u.protocol}//${username ? `${username}@` : ''}${u.host}${dbText ? `/${dbText}` : ''}`,
  };
}

/** A connection for BullMQ: commands wait for a reconnect (maxRetriesPerRequest null) instead of failing. */
export function connect(url: FarmUrl, name: string): Redis {
  const r = new Redis({
    host: url.host, port: url.port, username: url.username, password: url.password, db: url.db, ...(url.tls ? { tls: {} } : {}),
    connectionName: name, maxRetriesPerRequest: null, enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(200 * times, 2000),
  });
  // Errors while Redis is away are reported by the callers that wait on it; without a listener ioredis prints each retry.
  r.on('error', () => {});
  return r;
}

/** Fails fast with one line when Redis is unreachable or refuses the password (the first contact of a command). */
export async function ping(r: Redis, url: FarmUrl, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  // The connection retries quietly: keep its last error for the message.
  let last = '';
  const onError = (e: Error) => { last = e.message.split('\n')[0]; };
  r.on('error', onError);
  try {
    await Promise.race([
      r.ping(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${last ? `${last}; ` : ''}no answer in ${timeoutMs / 1000} s`)), timeoutMs); }),
    ]);
  } catch (err) {
    const m = err instanceof Error ? err.message : String(err);
    const hint = /NOAUTH|WRONGPASS|invalid password/i.test(m) ? ' (wrong or missing password)' : '';
    throw new UserError(`--farm: Redis at ${url.display} is not reachable: ${m.split('\n')[0]}${hint}`);
  } finally {
    clearTimeout(timer);
    r.off('error', onError);
  }
}

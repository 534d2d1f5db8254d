/**
 * A farm run's journal against the farm's Redis: every journaled verdict names a job that
 * completed there, once, and Redis completed no job of the run that the journal lacks (a job run
 * twice, e.g. after a worker was killed, is one job in Redis and one verdict in the journal).
 *
 *   node scripts/farm-check.ts RUN --farm redis://:PW@HOST:PORT
 */
import path from 'node:path';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Queue } from 'bullmq';
import { readJournal } from '../src/evolve/journal.ts';
import { laneNames, foldJournal } from '../src/evolve/run-state.ts';
import { connect, parseFarmUrl } from '../src/farm/connection.ts';
import { FARM_PREFIX, queueName } from '../src/farm/protocol.ts';
import { RUN_KEY_FILE } from '../src/farm/run-key.ts';

const [runDir, flag, url] = process.argv.slice(2);
if (!runDir || flag !== '--farm' || !url) {
  console.error('usage: node scripts/farm-check.ts RUN --farm redis://:PW@HOST:PORT');
  process.exit(1);
}
const { records } = readJournal(runDir);
const config = foldJournal(records).config;
const key = Buffer.from(readFileSync(path.join(runDir, RUN_KEY_FILE), 'utf8').trim(), 'hex');
const tag = createHash('sha256').update(key).digest('hex').slice(0, 10);
const redis = connect(parseFarmUrl(url), 'crinn-farm-check');
let bad = 0;
for (const lane of laneNames(config) as string[]) {
  const journal = records.filter((r) => r.type === 'verdict' && r.lane === lane).map((r) => (r as { job?: string }).job ?? '(none)');
  const proposals = records.filter((r) => r.type === 'variant-proposed' && r.lane === lane).length;
  const q = new Queue(queueName(lane), { connection: redis, prefix: FARM_PREFIX });
  const completed = (await q.getJobs(['completed'])).filter((j) => j.id!.startsWith(`${tag}.`)).map((j) => j.id!);
  const other = await q.getJobs(['waiting', 'active', 'delayed', 'failed']);
  const inFlight = other.filter((j) => j.id!.startsWith(`${tag}.`)).length;
  const dup = journal.length - new Set(journal).size;
  const missing = journal.filter((j) => !completed.includes(j)).length;
  const extra = completed.filter((j) => !journal.includes(j)).length;
  bad += dup + missing;
  console.log(`${lane}: proposals ${proposals}, journal verdicts ${journal.length} (duplicates ${dup}), Redis completed ${completed.length}, journaled but not completed in Redis ${missing}, completed in Redis but not journaled ${extra}, still queued/active/failed ${inFlight}`);
  await q.close();
}
redis.disconnect();
process.exit(bad ? 1 : 0);

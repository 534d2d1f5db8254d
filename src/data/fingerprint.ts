/**
 * Content fingerprint of a dataset: sha256 over a version tag, the metric, the shapes and the raw
 * float32 bytes of base and queries (as loaded, i.e. after angular normalisation). Two loads of
 * the same data give the same fingerprint whatever the file name; any changed value changes it.
 * Used as the key of ground-truth caches and recorded in reports and kernel bundles.
 */
import { createHash } from 'node:crypto';
import type { Dataset, VectorSet } from './types.ts';
import { updateHash } from './hash-bytes.ts';

const TAG = 'crinn-dataset-v1';

function bytesOf(set: VectorSet): Uint8Array {
  return new Uint8Array(set.data.buffer, set.data.byteOffset, set.n * set.dim * 4);
}

/** 64 hex digits. */
export function datasetFingerprint(ds: Pick<Dataset, 'metric' | 'base' | 'queries'>): string {
  const h = createHash('sha256');
  // Shapes go in a fixed header so equal bytes with different shapes cannot collide.
  h.update(`${TAG}\n${ds.metric}\nbase ${ds.base.n}x${ds.base.dim}\nqueries ${ds.queries.n}x${ds.queries.dim}\n`);
  updateHash(h, bytesOf(ds.base));
  updateHash(h, bytesOf(ds.queries));
  return h.digest('hex');
}

/** First 12 hex digits, for file names and tables. */
export function shortFingerprint(fp: string): string {
  return fp.slice(0, 12);
}

/** The manifest of known ann-benchmarks datasets (datasets/ann-benchmarks.json), zod-validated. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { METRICS } from './types.ts';
import type { Metric } from './types.ts';

export const ANN_MANIFEST_FILE = fileURLToPath(new URL('../../datasets/ann-benchmarks.json', import.meta.url));

const entrySchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'lower-case letters, digits, dots and dashes'),
  url: z.url({ protocol: /^https?$/ }),
  dim: z.number().int().positive(),
  train: z.number().int().positive(),
  test: z.number().int().positive(),
  neighbors: z.number().int().positive(),
  metric: z.enum(METRICS as [Metric, ...Metric[]]),
  /** The file's own `distance` attribute, for reference. */
  distanceAttribute: z.string(),
  approxBytes: z.number().int().positive().nullable(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits').nullable(),
  description: z.string(),
});

const manifestSchema = z.object({
  version: z.literal(1),
  datasets: z.array(entrySchema).refine((list) => new Set(list.map((d) => d.name)).size === list.length, 'dataset names must be unique'),
});

export type AnnDatasetEntry = z.infer<typeof entrySchema>;

/** Parses and validates a manifest document; errors name the file and the field path. */
export function parseAnnManifest(doc: unknown, file = ANN_MANIFEST_FILE): AnnDatasetEntry[] {
  const r = manifestSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError(`${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return r.data.datasets;
}

let cache: AnnDatasetEntry[] | undefined;

export function annDatasets(): AnnDatasetEntry[] {
  if (!cache) {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(ANN_MANIFEST_FILE, 'utf8'));
    } catch (err) {
      throw new UserError(`${ANN_MANIFEST_FILE}: cannot read the dataset manifest (${(err as Error).message})`);
    }
    cache = parseAnnManifest(doc);
  }
  return cache;
}

export function findAnnDataset(name: string): AnnDatasetEntry | undefined {
  return annDatasets().find((d) => d.name === name);
}

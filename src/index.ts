/**
 * The public entry of `crinn-webgpu`: open a GPU, load a dataset, build / save / load an index,
 * search it in batches, and benchmark it. Everything else under src/ is internal and may change.
 */
// The emitted .d.ts exposes WebGPU globals (GPUDevice, ...); this keeps the reference for consumers.
/// <reference types="@webgpu/types" preserve="true" />

export { openGpu, GpuContext, type OpenOptions } from './gpu/device.ts';
export { enumerateAdapters, platformBackends, type AdapterDescription, type AdapterQuery, type Backend } from './gpu/adapters.ts';
export { dawnProvider, type GpuProvider } from './gpu/provider.ts';

export type { Metric, VectorSet, Neighbors, Dataset } from './data/types.ts';
export { loadDataset, listKnownDatasets, type LoadOptions, type KnownDataset } from './data/resolve.ts';
export { bruteForceKnn } from './data/metric.ts';
export { gpuExactKnn } from './data/exact-knn.ts';
export { labelSetsFromRows, parseLabels, type LabelSets } from './data/labels.ts';
export { readLabelsFile } from './data/labels-file.ts';
export { passesFilter, type QueryFilter, type FilterSpec, type AnyOfFilter, type AllOfFilter, type BitmapFilter } from './data/filter.ts';
export { filteredExactKnn } from './data/filtered-knn.ts';
export { zipfLabels, selectivityFilters } from './data/synthetic-labels.ts';

export { buildIndex, saveIndex, loadIndex, AnnEngine, type Index, type BuildIndexOptions, type AnnEngineOptions, type OpenEngineOptions, type SearchOptions } from './search/engine.ts';
export { pickKernelBundle, loadKernelBundle, bundleDirs, SHIPPED_KERNELS, adapterMatches, type KernelBundle, type AdapterIdentity, type PickOptions } from './search/bundle.ts';
export { codecFor, codecNames, registerCodec, type StorageCodec, type VectorStorage } from './data/codecs/registry.ts';
export type { BuildStats, BuildProgress } from './graph/build.ts';
export { DEFAULT_BUILD_PARAMS, type BuildParams, type BuildParamsInput } from './graph/params.ts';
export { DEFAULT_SEARCH_PARAMS, type SearchParams } from './search/params.ts';

export { runBench, type RunBenchOptions, type BenchEvent } from './bench/run.ts';
export type { BenchResult } from './bench/schema.ts';
export { recallAtK, type RecallResult } from './bench/recall.ts';
export { auc, summarize, paretoFrontier, qpsAtRecall, type RewardSummary } from './bench/reward.ts';
export { systemNames, peerNames, registerSystem } from './bench/systems.ts';
export { type BenchSystem, type SystemOptions, type SystemEntry } from './bench/bench-system.ts';

export { UserError, GpuError } from './errors.ts';
export { VERSION } from './version.ts';

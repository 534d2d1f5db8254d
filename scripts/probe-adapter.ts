// Exits 0 when Dawn finds a core-feature-level WebGPU adapter here, 1 otherwise (used by
// scripts/setup.sh): a compatibility-only OpenGL adapter lacks what the kernels need.
import { dawnProvider } from '../src/gpu/provider.ts';
import { enumerateAdapters } from '../src/gpu/adapters.ts';

const found = await enumerateAdapters(await dawnProvider());
for (const a of found) console.log(a.description.name);
process.exit(found.some((a) => a.description.featureLevel === 'core') ? 0 : 1);

/** f32 storage: the values as given, four bytes each; rows padded to whole vec4s on the GPU. */
import { padRows } from '../../gpu/kernel-text.ts';
import type { StorageCodec } from './storage-codec.ts';

export const f32Codec: StorageCodec = {
  name: 'f32',
  fileCode: 0,
  fileRowBytes: (dim) => dim * 4,
  encode: (values) => values,
  decode: (bytes) => new Float32Array(bytes),
  round: (values) => values,
  rowVec4s: (dim) => Math.ceil(dim / 4),
  packRows: (values, n, dim, dim4) => padRows({ data: values, n, dim }, dim4).data,
  rowLoader: { role: 'baseF32', file: 'base_f32.wgsl' },
  needsRefine: false,
  shaderFeatures: [],
};

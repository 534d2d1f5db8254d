import { describe, expect, it } from 'vitest';
import { moduleManifestSchema } from '../../src/bundle/module-manifest.ts';
import { ReplyError, applyReply, parseReply } from '../../src/evolve/llm/reply.ts';

const manifest = moduleManifestSchema.parse({
  module: 'refine', kind: 'wgsl', contract: 1, files: ['refine.wgsl'],
  knobs: [{ name: 'refineFactor', min: 1, max: 8, default: 2 }],
});
const SRC = 'override WG: u32 = 64;\nfn dist(a: f32) -> f32 {\n  return a * a;\n}\nfn main() {\n  let x = 1u;\n}\n';
const parent = { files: { 'refine.wgsl': SRC }, knobValues: { refineFactor: 2 } };
const ANALYSIS = '## Analysis\nThe faster variants evaluate fewer candidates per query: exemplar 1 does 410 evaluations at 0.95 versus 980.\n\n## Strategy\nWiden the workgroup so each invocation has more parallel slack.\n\n';

describe('reply parsing', () => {
  it('accepts a whole file and knobs, and applies them', () => {
    const r = parseReply(`${ANALYSIS}## Changes\n### FILE refine.wgsl\n\`\`\`wgsl\noverride WG: u32 = 128;\n\`\`\`\n\n## Knobs\n\`\`\`json\n{"refineFactor": 3}\n\`\`\`\n`);
    expect(r.changes).toEqual([{ kind: 'file', path: 'refine.wgsl', content: 'override WG: u32 = 128;\n' }]);
    const a = applyReply(parent, r, manifest);
    expect(a).toEqual({ files: { 'refine.wgsl': 'override WG: u32 = 128;\n' }, knobValues: { refineFactor: 3 } });
  });

  it('applies SEARCH/REPLACE blocks in order, by base name or full path', () => {
    const text = `${ANALYSIS}## Changes\n### EDIT shaders/refine.wgsl\n<<<<<<< SEARCH\noverride WG: u32 = 64;\n=======\noverride WG: u32 = 256;\n>>>>>>> REPLACE\n<<<<<<< SEARCH\n  return a * a;\n=======\n  return fma(a, a, 0.0);\n>>>>>>> REPLACE\n`;
    const a = applyReply(parent, parseReply(text), manifest);
    expect(a.files['refine.wgsl']).toBe(SRC.replace('= 64', '= 256').replace('a * a', 'fma(a, a, 0.0)'));
    expect(a.knobValues).toEqual({ refineFactor: 2 });
  });

  it('a SEARCH that does not match, or matches twice, is an error naming the block', () => {
    const edit = (search: string) => parseReply(`${ANALYSIS}## Changes\n### EDIT refine.wgsl\n<<<<<<< SEARCH\n${search}\n=======\nX\n>>>>>>> REPLACE\n`);
    expect(() => applyReply(parent, edit('override WG: u32 = 32;'), manifest)).toThrow(/EDIT refine.wgsl block 1: SEARCH text not found/);
    expect(() => applyReply(parent, edit('fn '), manifest)).toThrow(/occurs 2 times/);
    // Whitespace counts: the same line with different indentation does not match.
    expect(() => applyReply(parent, edit('return a * a;\n}'), manifest)).not.toThrow();
    expect(() => applyReply(parent, edit('    return a * a;'), manifest)).toThrow(ReplyError);
  });

  it('prose with no code is an error', () => {
    expect(() => parseReply('I think you should use a larger workgroup size; it will be faster.')).toThrow(/does not follow the format/);
    expect(() => parseReply(`${ANALYSIS}## Changes\nUse a bigger workgroup.\n`)).toThrow(/changes: no changes/);
  });

  it('malformed structure is an error with the reason', () => {
    expect(() => parseReply(`${ANALYSIS}## Changes\n### EDIT refine.wgsl\n<<<<<<< SEARCH\nfoo\n>>>>>>> REPLACE\n`)).toThrow(/block 1: malformed/);
    expect(() => parseReply(`${ANALYSIS}## Changes\n### FILE refine.wgsl\nno fence here\n`)).toThrow(/fenced block/);
    expect(() => parseReply(`${ANALYSIS}## Knobs\n\`\`\`json\n{"refineFactor": "three"}\n\`\`\`\n`)).toThrow(/## Knobs: expected/);
    expect(() => parseReply(`${ANALYSIS}## Knobs\n\`\`\`json\n{refineFactor: 3\n\`\`\`\n`)).toThrow(/## Knobs: not a JSON object/);
    expect(() => parseReply('## Changes\n### FILE refine.wgsl\n```\nx\n```\n## Analysis\nlong enough analysis text goes here, really it is.\n## Strategy\nsomething to do\n')).toThrow(/before '## Analysis'/);
    expect(() => parseReply('## Analysis\ntoo short\n## Strategy\nsomething to do\n## Knobs\n{"refineFactor": 3}\n')).toThrow(/analysis: the analysis is missing or shorter/);
    expect(() => parseReply(`${ANALYSIS}## Changes\n### PATCH refine.wgsl\nx\n`)).toThrow(/unknown heading/);
  });

  it('knobs outside the manifest, unknown files and no-op replies are errors', () => {
    const knobs = (j: string) => parseReply(`${ANALYSIS}## Knobs\n\`\`\`json\n${j}\n\`\`\`\n`);
    expect(() => applyReply(parent, knobs('{"refineFactor": 9}'), manifest)).toThrow(/outside \[1, 8\]/);
    expect(() => applyReply(parent, knobs('{"refineFactor": 2.5}'), manifest)).toThrow(/not an integer/);
    expect(() => applyReply(parent, knobs('{"wg": 2}'), manifest)).toThrow(/unknown knob 'wg'/);
    expect(() => applyReply(parent, knobs('{"refineFactor": 2}'), manifest)).toThrow(/identical to the current best/);
    const other = parseReply(`${ANALYSIS}## Changes\n### FILE search.wgsl\n\`\`\`\nx\n\`\`\`\n`);
    expect(() => applyReply(parent, other, manifest)).toThrow(/'search.wgsl' is not a file of this module/);
  });

  it('code fences inside the file do not end sections early; CRLF replies parse', () => {
    const r = parseReply(`${ANALYSIS}## Changes\n### FILE refine.wgsl\n\`\`\`wgsl\n// ## not a heading\nfn f() {}\n\`\`\`\n`.replace(/\n/g, '\r\n'));
    expect(r.changes[0]).toMatchObject({ kind: 'file', content: '// ## not a heading\nfn f() {}\n' });
  });
});

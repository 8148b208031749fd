import { describe, expect, it } from 'vitest';
import { DawnNoticeFilter, quietWanted } from '../../src/cli/quiet.js';
import { runCli } from '../helpers/cli.js';

const filtered = (chunks: string[]): string => {
  let out = '';
  const f = new DawnNoticeFilter((s) => { out += s; });
  for (const c of chunks) f.push(c);
  f.end();
  return out;
};

describe('quiet by default', () => {
  it('drops Dawn notice blocks, even split across chunks, and keeps everything else', () => {
    const dawn = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.\n'
      + "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file\n    at operator() (/x/dawn/native/vulkan/BackendVk.cpp:368)\n\n";
    const ours = 'error: runtime ort-webgpu failed\n  at the end: a detail line of ours\n';
    const text = `${dawn}${ours}${dawn}last line without newline`;
    const expected = `${ours}last line without newline`;
    expect(filtered([text])).toBe(expected);
    expect(filtered(text.match(/[\s\S]{1,7}/g)!)).toBe(expected);
    expect(filtered(['a\n', '\n', 'b\n'])).toBe('a\n\nb\n');
  });

  it('filters only commands that may load dawn.node, and never with --verbose', () => {
    expect(quietWanted(['doctor', '--list'], {})).toBe(true);
    expect(quietWanted(['verify', 'm.onnx', '--golden', 'g', '--runtime', 'ort-webgpu'], {})).toBe(true);
    expect(quietWanted(['verify', 'm', '--golden', 'g', '--runtime=tfjs-webgpu'], {})).toBe(true);
    expect(quietWanted(['verify', 'm.onnx', '--golden', 'g'], {})).toBe(false);
    expect(quietWanted(['verify', 'm.onnx', '--golden', 'g', '--runtime', 'ort-cpu'], {})).toBe(false);
    expect(quietWanted(['--verbose', 'doctor'], {})).toBe(false);
    expect(quietWanted(['doctor'], { BISENET_QUIET_CHILD: '1' })).toBe(false);
  });

  it('bisenet doctor --list prints no Dawn notices, exit code kept', () => {
    const r = runCli(['doctor', '--list']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ort-cpu +yes/m);
    expect(r.stderr).not.toMatch(/Warning: /);
    const bad = runCli(['doctor', '--golden', '/nonexistent-golden']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^error: /);
    expect(bad.stderr).not.toMatch(/Warning: /);
  });
});

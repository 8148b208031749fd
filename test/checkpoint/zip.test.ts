import { describe, expect, it } from 'vitest';
import { ZipArchive } from '../../src/checkpoint/zip.js';
import { BisenetError } from '../../src/util/errors.js';
import { makeZip } from '../fuzz-lib/zip-writer.js';

const files = [
  { name: 'mytop/data.pkl', data: Uint8Array.from([1, 2, 3]) },
  { name: 'mytop/data/0', data: new Uint8Array(100).map((_, i) => i) },
];

describe('zip reader', () => {
  it('reads stored entries', () => {
    const z = new ZipArchive(makeZip(files), 't.zip');
    expect([...z.entries.keys()]).toEqual(['mytop/data.pkl', 'mytop/data/0']);
    expect([...z.read('mytop/data/0')]).toEqual([...files[1]!.data]);
  });

  it('reads zip64 records and data descriptors', () => {
    const z = new ZipArchive(makeZip(files, { zip64: true, dataDescriptor: true }), 't.zip');
    expect([...z.read('mytop/data.pkl')]).toEqual([1, 2, 3]);
    expect(z.read('mytop/data/0').length).toBe(100);
  });

  it('inflates deflated entries', () => {
    const z = new ZipArchive(makeZip(files.map((f) => ({ ...f, deflate: true }))), 't.zip');
    expect([...z.read('mytop/data/0')]).toEqual([...files[1]!.data]);
  });

  it('rejects every truncation with a format error', () => {
    const bytes = makeZip(files);
    for (let cut = 0; cut < bytes.length; cut += 7) {
      let threw = false;
      try {
        const z = new ZipArchive(bytes.subarray(0, cut), 'cut.zip');
        for (const n of z.entries.keys()) z.read(n);
      } catch (e) {
        expect(e).toBeInstanceOf(BisenetError);
        threw = true;
      }
      expect(threw).toBe(true);
    }
  });

  it('refuses a deflated entry that inflates beyond its declared size', () => {
    const bytes = Buffer.from(makeZip([{ name: 'a/data.pkl', data: new Uint8Array(10000), deflate: true }]));
    // Declare 10 bytes uncompressed in the central directory: a miniature zip bomb.
    const cd = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    bytes.writeUInt32LE(10, cd + 24);
    // Refused when the local header is compared with the central directory, or else when inflating.
    expect(() => new ZipArchive(bytes, 'bomb.zip').read('a/data.pkl')).toThrowError(/not a valid zip archive|inflate/);
  });
});

// rootfs.test: the in-memory tar writer and the embedded pause binary.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pauseElfX64, pauseRootfs, tar } from './rootfs.ts';

describe('tar', () => {
  it('writes an archive GNU tar extracts, deterministically', () => {
    const entries = [
      { type: 'dir' as const, path: 'www' },
      { type: 'file' as const, path: 'www/index.html', data: Buffer.from('hello\n'), mode: 0o600 },
      { type: 'symlink' as const, path: 'www/link', target: 'index.html' },
    ];
    const a = tar(entries);
    expect(a.equals(tar(entries))).toBe(true);
    expect(a.length % 512).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'kubeling-tar-'));
    try {
      writeFileSync(join(dir, 'a.tar'), a);
      execFileSync('tar', ['-xf', 'a.tar'], { cwd: dir });
      expect(readFileSync(join(dir, 'www/index.html'), 'utf8')).toBe('hello\n');
      expect(statSync(join(dir, 'www/index.html')).mode & 0o777).toBe(0o600);
      expect(readlinkSync(join(dir, 'www/link'))).toBe('index.html');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pause', () => {
  it('is a small ELF executable entered right after its headers', () => {
    const elf = pauseElfX64();
    expect(elf.length).toBe(216);
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(elf.readBigUInt64LE(24)).toBe(0x400078n);
    expect(pauseRootfs().length % 512).toBe(0);
  });
  it.runIf(process.arch === 'x64')('sleeps until SIGTERM, then exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubeling-pause-'));
    try {
      const bin = join(dir, 'pause');
      writeFileSync(bin, pauseElfX64(), { mode: 0o755 });
      const { spawn } = await import('node:child_process');
      const child = spawn(bin);
      await new Promise((r) => setTimeout(r, 200));
      expect(child.exitCode).toBeNull();
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

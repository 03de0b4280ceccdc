import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, isPrettyFormat } from '../../../src/app/logger.ts';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk) => {
    text += chunk;
  });
  return { stream, text: () => text };
}

describe('createLogger', () => {
  it('writes JSON lines with level names, time and name, honouring the level', async () => {
    const { stream, text } = capture();
    const logger = createLogger({ level: 'info', format: 'json' }, { stream });
    logger.info({ sensor: 'pump-1' }, 'warm-up done');
    logger.debug('hidden');
    await new Promise((resolve) => setImmediate(resolve));
    const lines = text().trim().split('\n');
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0] as string);
    assert.equal(line.level, 'info');
    assert.equal(line.name, 'tsad');
    assert.equal(line.sensor, 'pump-1');
    assert.equal(line.msg, 'warm-up done');
    assert.ok(!Number.isNaN(Date.parse(line.time)));
  });

  it("logs an error's own message and its cause as a nested error, not the cause's text twice", async () => {
    const { stream, text } = capture();
    const logger = createLogger({ level: 'info', format: 'json' }, { stream });
    const cause = Object.assign(new Error("ENOENT: no such file or directory, open '/x'"), {
      code: 'ENOENT',
    });
    logger.error(
      { err: new Error('cannot read /x (ENOENT: no such file or directory)', { cause }) },
      'failed',
    );
    await new Promise((resolve) => setImmediate(resolve));
    const { err } = JSON.parse(text().trim());
    assert.equal(err.message, 'cannot read /x (ENOENT: no such file or directory)');
    assert.equal(err.cause.message, "ENOENT: no such file or directory, open '/x'");
    assert.equal(err.cause.code, 'ENOENT');
  });

  it('writes readable lines when the format is pretty', async () => {
    const { stream, text } = capture();
    const logger = createLogger({ level: 'debug', format: 'pretty' }, { stream, isTTY: false });
    logger.debug({ sensor: 'pump-2' }, 'model swapped');
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(text(), /DEBUG.*model swapped/);
    assert.match(text(), /sensor: "pump-2"/);
    assert.throws(() => JSON.parse(text()));
  });

  it('chooses pretty for auto only on a terminal', () => {
    assert.equal(isPrettyFormat('auto', true), true);
    assert.equal(isPrettyFormat('auto', false), false);
    assert.equal(isPrettyFormat('json', true), false);
    assert.equal(isPrettyFormat('pretty', false), true);
  });
});

import { describe, expect, it } from 'vitest';
import { hardenHbaText } from './hba.js';

describe('hardenHbaText', () => {
  it('turns every passwordless method into scram-sha-256 and keeps everything else', () => {
    const text = [
      '# TYPE  DATABASE USER ADDRESS METHOD',
      'local   all      all          trust',
      'host    all      all  127.0.0.1/32  trust # loopback',
      'host    all      all  ::1/128       scram-sha-256',
      'host    all      all  127.0.0.1 255.255.255.255 trust',
      'hostssl all      all  0.0.0.0/0     md5',
      'local   all      all          peer map=x',
      '',
    ].join('\n');
    expect(hardenHbaText(text)).toBe(
      [
        '# TYPE  DATABASE USER ADDRESS METHOD',
        'local all all scram-sha-256',
        'host all all 127.0.0.1/32 scram-sha-256',
        'host    all      all  ::1/128       scram-sha-256',
        'host all all 127.0.0.1 255.255.255.255 scram-sha-256',
        'hostssl all      all  0.0.0.0/0     md5',
        'local all all scram-sha-256',
        '',
      ].join('\n'),
    );
  });

  it('leaves a file without passwordless methods byte for byte alone', () => {
    const text = '# comment trust\nhost all all 127.0.0.1/32 scram-sha-256\n';
    expect(hardenHbaText(text)).toBe(text);
  });
});

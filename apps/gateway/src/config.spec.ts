import { loadGatewayConfig } from './config';

describe('JUNCTION_TRUSTED_PROXIES', () => {
  it('takes addresses, CIDRs and the named ranges; unset, none', () => {
    expect(loadGatewayConfig({}).JUNCTION_TRUSTED_PROXIES).toBeUndefined();
    expect(
      loadGatewayConfig({
        JUNCTION_TRUSTED_PROXIES: ' 10.0.0.0/8, 192.0.2.7 ,fd00::/8,::1, loopback,uniquelocal',
      }).JUNCTION_TRUSTED_PROXIES,
    ).toEqual(['10.0.0.0/8', '192.0.2.7', 'fd00::/8', '::1', 'loopback', 'uniquelocal']);
  });

  it('stops the start, naming the variable, at anything else', () => {
    for (const bad of [
      '10.0.0.0/33',
      '::1/129',
      'proxy.example',
      'http://10.0.0.1',
      '10.0.0.1/8/8',
      '*',
    ])
      expect(() => loadGatewayConfig({ JUNCTION_TRUSTED_PROXIES: bad })).toThrow(
        /JUNCTION_TRUSTED_PROXIES=.*is not an address, a CIDR/,
      );
  });
});

describe('JUNCTION_KAFKA_SESSION_TIMEOUT_MS', () => {
  it('is 30 s unless set; takes what Kafka brokers accept by default', () => {
    expect(loadGatewayConfig({}).JUNCTION_KAFKA_SESSION_TIMEOUT_MS).toBe(30_000);
    expect(
      loadGatewayConfig({ JUNCTION_KAFKA_SESSION_TIMEOUT_MS: '6000' })
        .JUNCTION_KAFKA_SESSION_TIMEOUT_MS,
    ).toBe(6_000);
  });

  it('stops the start, naming the variable, below 6 s, above 30 min or not a number', () => {
    for (const bad of ['5999', '1800001', '10s', '-1'])
      expect(() => loadGatewayConfig({ JUNCTION_KAFKA_SESSION_TIMEOUT_MS: bad })).toThrow(
        /JUNCTION_KAFKA_SESSION_TIMEOUT_MS/,
      );
  });
});

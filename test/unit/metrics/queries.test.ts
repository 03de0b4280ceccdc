import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  operands,
  substituteInfluxQL,
  substitutePromQL,
} from '../../integration/observability/queries.ts';

describe('operands (of an alert expression)', () => {
  it('splits at top-level comparisons and drops the numbers', () => {
    assert.deepEqual(operands('up{job="tsad"} == 0'), ['up{job="tsad"}']);
    assert.deepEqual(operands('max(tsad_model_age_seconds) > 7 * 86400'), [
      'max(tsad_model_age_seconds)',
    ]);
  });

  it('splits at and / or / unless but not inside words, labels, groupings or ranges', () => {
    assert.deepEqual(
      operands('sum by (topic) (lag{x!="a>b"}) > 1000 and sum by (topic) (deriv(lag[10m:1m])) > 0'),
      ['sum by (topic) (lag{x!="a>b"})', 'sum by (topic) (deriv(lag[10m:1m]))'],
    );
    assert.deepEqual(operands('brand_total or standard_total unless x'), [
      'brand_total',
      'standard_total',
      'x',
    ]);
    assert.deepEqual(operands('a{state=~"firing|resolved"} >= bool 2'), [
      'a{state=~"firing|resolved"}',
    ]);
  });

  it('keeps an arithmetic expression whole', () => {
    assert.deepEqual(operands('sum(rate(a[5m])) / clamp_min(sum(rate(b[5m])), 1e-9) > 0.05'), [
      'sum(rate(a[5m])) / clamp_min(sum(rate(b[5m])), 1e-9)',
    ]);
  });
});

describe('Grafana variable substitution', () => {
  it('replaces the PromQL interval variables', () => {
    assert.equal(
      substitutePromQL('rate(x[$__rate_interval]) + rate(y[$__interval])'),
      'rate(x[1m]) + rate(y[15s])',
    );
  });

  it('regex-escapes the sensor and fills in the time filter and interval', () => {
    assert.equal(
      substituteInfluxQL(
        'WHERE "sensor" =~ /^$sensor$/ AND $timeFilter GROUP BY time($__interval)',
        {
          sensor: 'a.b/c-1',
        },
      ),
      'WHERE "sensor" =~ /^a\\.b\\/c\\-1$/ AND time > now() - 1h GROUP BY time(1s)',
    );
  });
});

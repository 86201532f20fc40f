import Fastify from 'fastify';
import {
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { afterAll, describe, expect, it } from 'vitest';
import { compileShipped, shippedPackText } from '../../test/support/policy-pack.ts';
import type { AppContext } from '../api/context.ts';
import { handleError } from '../api/errors.ts';
import { createPolicyHolder } from './holder.ts';
import { nextReviewDue, policyRoutes } from './routes.ts';

// The routes read only the policy holder; permissions are enforced by the app's hook (app.ts).
const ctx = { policy: createPolicyHolder(compileShipped()) } as unknown as AppContext;
const app = Fastify().withTypeProvider<ZodTypeProvider>();
app.setValidatorCompiler(validatorCompiler);
app.setSerializerCompiler(serializerCompiler);
app.setErrorHandler(handleError);
await app.register(policyRoutes(ctx), { prefix: '/api/policy' });
afterAll(() => app.close());

describe('policy routes', () => {
  it('GOV-2, GOV-4: GET / answers the document record, versions and clauses', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/policy' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.document.owner).toEqual({ role: 'sbm', name: 'Ms Bains' });
    expect(body.document.versions).toHaveLength(5);
    expect(body.document.nextReviewDue).toBe('2025-12-04');
    expect(body.clauses).toHaveLength(69);
  });

  it('SYS-5: GET /clauses/SYS-5 answers the policy words; an unknown id is a 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/policy/clauses/SYS-5' });
    expect(res.statusCode).toBe(200);
    expect(res.json().text).toContain('Web mail (such as Hotmail or Yahoo)');
    const parts = await app.inject({ method: 'GET', url: '/api/policy/clauses/MIS-2' });
    expect(Object.keys(parts.json().parts)).toHaveLength(10);
    const missing = await app.inject({ method: 'GET', url: '/api/policy/clauses/SYS-99' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('not_found');
    const bad = await app.inject({ method: 'GET', url: '/api/policy/clauses/nonsense' });
    expect(bad.statusCode).toBe(400);
  });

  it('POST /check validates text/plain, application/yaml and JSON without applying', async () => {
    const before = ctx.policy.current();
    const ok = await app.inject({
      method: 'POST',
      url: '/api/policy/check',
      headers: { 'content-type': 'text/plain' },
      payload: shippedPackText(),
    });
    expect(ok.json()).toEqual({ ok: true, errors: [] });
    const broken = shippedPackText().replace('format: 1', 'format: 2');
    for (const [type, payload] of [
      ['application/yaml', broken],
      ['application/json', JSON.stringify({ yaml: broken, fileName: 'upload.yaml' })],
    ] as const) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/policy/check',
        headers: { 'content-type': type },
        payload,
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().ok).toBe(false);
      expect(res.json().errors[0]).toMatchObject({ key: 'format' });
    }
    expect(ctx.policy.current()).toBe(before);
  });

  it('GOV-1: the next review is the latest dated version or approval plus the interval', () => {
    expect(
      nextReviewDue({
        reviewIntervalMonths: 12,
        approval: { date: '2024-02-29' },
        versions: [{ date: '2023-01-01' }, { date: null }],
      }),
    ).toBe('2025-02-28');
  });
});

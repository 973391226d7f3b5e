import type { RouteSpec } from '@junction/connectors';

/** Seeded on first start so that a newcomer can curl a route at once (no broker needed). */
export const DEMO_ROUTE: RouteSpec = {
  id: 'demo-orders',
  description:
    'Demo: an order posted to /ingest/demo/orders is validated, mapped, masked and logged; the reply shows the result',
  source: { type: 'http', path: 'demo/orders', mode: 'sync', auth: 'none' },
  pipeline: [
    {
      validate: {
        schema: {
          type: 'object',
          required: ['id', 'total'],
          properties: { id: { type: 'string' }, total: { type: 'number' } },
        },
      },
    },
    {
      transform:
        '{ "orderId": id, "amount": total, "currency": currency, "email": customer.email, "country": customer.country, "items": $count(items), "card": { "pan": payment.card.pan, "brand": payment.card.brand } }',
    },
    {
      mask: [
        { path: 'card.pan', with: 'pan' },
        { path: 'email', with: 'email' },
      ],
    },
  ],
  destinations: [{ type: 'log' }],
};

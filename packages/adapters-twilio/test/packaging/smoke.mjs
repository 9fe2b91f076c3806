// The consumer checks of smoke.cjs, with the packages loaded through ES module imports.
import * as core from '@callflow/flow-core';
import * as dsl from '@callflow/flow-dsl';
import * as twilioAdapter from '@callflow/adapters-twilio';
import twilio from 'twilio';
import { z } from 'zod';
import smoke from './smoke.cjs';

await smoke({
  label: 'esm',
  core,
  dsl,
  twilioAdapter,
  twilio,
  z,
  subpaths: {
    '@callflow/flow-core/redis': await import('@callflow/flow-core/redis'),
    '@callflow/adapters-twilio/express': await import('@callflow/adapters-twilio/express'),
    '@callflow/adapters-twilio/fastify': await import('@callflow/adapters-twilio/fastify'),
    '@callflow/adapters-twilio/redis': await import('@callflow/adapters-twilio/redis'),
    '@callflow/adapters-twilio/testing': await import('@callflow/adapters-twilio/testing'),
  },
});

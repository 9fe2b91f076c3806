/**
 * @callflow/adapters-genesys: plugs the Callflow runtime into Genesys Cloud. It depends on
 * @callflow/flow-core only. A placeholder: it names the provider and has no adapter yet.
 *
 * @packageDocumentation
 */

/** The provider this adapter speaks to, as named in `callflow.config.yaml` (`provider:`). */
export const provider = 'genesys' as const;

/**
 * @callflow/adapters-genesys: plugs the Callflow runtime into Genesys Cloud. It depends on
 * @callflow/flow-core only; the adapter itself lands with its own issue.
 *
 * @packageDocumentation
 */

/** The provider this adapter speaks to, as named in `callflow.config.yaml` (`provider:`). */
export const provider = 'genesys' as const;

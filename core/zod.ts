import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * The schema library of every edge: zod/mini, whose functions a bundle keeps only as far as they
 * are used (full zod's methods keep all of it, in the SharedWorker and the leader tab alike).
 *
 * Full zod registers its English messages on first use; zod/mini registers none, and every issue
 * would then read "Invalid input". The messages a person sees in a damaged notice or a refused
 * call are those English ones, so they are set here, before any schema of core/ parses. The
 * server's own schemas (full zod) find them set and keep them.
 */
z.config(en());

export { z };

import * as z from 'zod/mini';

// The app runs under a CSP without 'unsafe-eval': zod must not even probe `new Function` (the
// probe is caught, but the browser still reports a violation). Imported first by every entry.
z.config({ jitless: true });

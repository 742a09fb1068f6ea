import { afterEach } from 'vitest';
import { takePageErrors } from './browser.ts';

// An end-to-end test fails when a page of its browser threw an error or left a rejection that
// nothing caught (test/helpers/browser.ts watches every context it makes): a person's console
// would show it, and it is a bug even where what the test asserts holds.
afterEach(() => {
  const errors = takePageErrors();
  if (errors.length > 0)
    throw new Error(`A page left ${errors.length} uncaught error(s):\n${errors.join('\n\n')}`);
});

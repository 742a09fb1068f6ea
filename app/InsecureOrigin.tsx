/**
 * Shown instead of the app on an insecure origin (plain http at a network address): the browser
 * keeps service workers, Web Locks and `crypto.randomUUID` from such pages, so Tally would fail
 * half-way. It says so in words, and nothing of Tally's storage is opened.
 */
export function InsecureOrigin({ origin }: { origin: string }) {
  const { hostname, port } = new URL(origin);
  return (
    <div className="shell">
      <header className="top">
        <h1>
          <span className="logo" aria-hidden="true">
            ▦
          </span>{' '}
          Tally
        </h1>
      </header>
      <main>
        <section className="insecure" role="alert" aria-label="Secure connection needed">
          <h2>Tally needs a secure connection</h2>
          <p>
            This page was opened at <code>{origin}</code>, a plain <code>http</code> address on the
            network. Browsers keep offline storage, the engine Tally runs in and sync from such
            pages, so nothing was opened or stored here.
          </p>
          <p>To use Tally on this device, open it over HTTPS:</p>
          <ul>
            <li>
              start the server with a certificate this device trusts:{' '}
              <code>TALLY_TLS_CERT=cert.pem TALLY_TLS_KEY=key.pem HOST=0.0.0.0 npm start</code>,
              then open{' '}
              <code>
                https://{hostname}
                {port ? `:${port}` : ''}
              </code>
              ;
            </li>
            <li>or put a reverse proxy that serves HTTPS in front of it;</li>
            <li>
              or, on the computer that runs the server, open <code>http://localhost</code>
              {port ? `:${port}` : ''}.
            </li>
          </ul>
        </section>
      </main>
    </div>
  );
}

import { useEffect, useState } from 'react';

export type Pairing = {
  readonly pairingLink: string;
  readonly invite: string;
  readonly expiresAt: number;
};

const loopback = (hostname: string) =>
  hostname === 'localhost' ||
  hostname.endsWith('.localhost') ||
  /^127\.\d+\.\d+\.\d+$/.test(hostname) ||
  hostname === '[::1]';

const left = (ms: number) => {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
};

/**
 * The pairing link and a QR code of exactly that link, shown only where a person asked to pair,
 * with the time left before the invite stops working. The QR library is loaded only here.
 */
export function PairPanel({
  pairing,
  onCancel,
  onClose,
  watchDevices,
  onJoined,
}: {
  pairing: Pairing;
  onCancel: () => void;
  onClose: () => void;
  /** The space's device ids now: polled while the panel is open, to see the new one arrive. */
  watchDevices: () => Promise<{ id: string; name: string }[]>;
  /** A device joined (the invite is used up): the panel's work is done. */
  onJoined: (name: string) => void;
}) {
  // The QR code's image, or `failed` when it could not be drawn (its code did not load).
  const [qr, setQr] = useState<string | { failed: true }>();
  const [now, setNow] = useState(() => Date.now());
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    let live = true;
    setQr(undefined);
    import('qrcode')
      .then(({ toDataURL }) =>
        toDataURL(pairing.pairingLink, { margin: 1, width: 240, errorCorrectionLevel: 'M' }),
      )
      .then(
        (url) => live && setQr(url),
        // Offline before it ever loaded, say: the link still works.
        () => live && setQr({ failed: true }),
      );
    return () => void (live = false);
  }, [pairing.pairingLink]);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => {
    let known: Set<string> | undefined;
    let live = true;
    const look = () =>
      void watchDevices().then(
        (devices) => {
          if (!live) return;
          const fresh = known && devices.find((device) => !known!.has(device.id));
          known = new Set(devices.map((device) => device.id));
          if (fresh) onJoined(fresh.name);
        },
        () => undefined,
      );
    look();
    const timer = setInterval(look, 2000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [watchDevices, onJoined]);
  const remaining = pairing.expiresAt - now;
  const host = new URL(pairing.pairingLink).hostname;
  return (
    <div className="pair" role="region" aria-label="Pair a device">
      <label htmlFor="pairing-link">Pairing link</label>
      <input
        id="pairing-link"
        readOnly
        value={pairing.pairingLink}
        onFocus={(event) => event.target.select()}
      />
      <button
        type="button"
        onClick={() =>
          void navigator.clipboard.writeText(pairing.pairingLink).then(() => setCopied(true))
        }
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
      {/* An expired invite's code would only be refused: it goes. */}
      {remaining <= 0 ? null : typeof qr === 'string' ? (
        <img className="qr" src={qr} alt="Pairing QR code" width={240} height={240} />
      ) : qr ? (
        <p className="small warn">Could not draw the QR code; use the link above.</p>
      ) : (
        <p className="muted small">Making the QR code…</p>
      )}
      {/* Not read out as it ticks each second (a screen reader would speak every change): only
          its end is. */}
      <p
        className="muted small"
        role="status"
        aria-label="Invite expiry"
        aria-live={remaining > 0 ? 'off' : 'polite'}
      >
        {remaining > 0
          ? `Scan it or open the link on your other device. It works once, for ${left(remaining)} more.`
          : 'This invite has expired. Pair again for a new one.'}
      </p>
      {loopback(host) && (
        <p className="small warn">
          This link points at <code>{host}</code>, so it works only on this computer. To pair a
          phone, open Tally at an address the phone can reach, over HTTPS (see the README).
        </p>
      )}
      <div className="invite-actions">
        <button type="button" onClick={onClose}>
          Done
        </button>
        <button type="button" className="link" onClick={onCancel}>
          Cancel invite
        </button>
      </div>
    </div>
  );
}

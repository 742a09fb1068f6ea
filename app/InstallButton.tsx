import { useEffect, useState } from 'react';

/** What Chromium hands a page it would install (not in the DOM's standard types). */
type InstallPrompt = Event & {
  prompt(): Promise<void>;
  readonly userChoice: Promise<{ readonly outcome: 'accepted' | 'dismissed' }>;
};

/**
 * `Install`, shown only where the browser offers installation (`beforeinstallprompt`): one
 * click asks the browser's own install dialog. Gone once installed or running installed.
 */
export function InstallButton() {
  const [offer, setOffer] = useState<InstallPrompt>();
  useEffect(() => {
    const offered = (event: Event) => {
      // Keep the browser's own mini-infobar from showing: the button is the offer.
      event.preventDefault();
      setOffer(event as InstallPrompt);
    };
    const installed = () => setOffer(undefined);
    window.addEventListener('beforeinstallprompt', offered);
    window.addEventListener('appinstalled', installed);
    return () => {
      window.removeEventListener('beforeinstallprompt', offered);
      window.removeEventListener('appinstalled', installed);
    };
  }, []);
  if (!offer) return null;
  return (
    <button
      type="button"
      className="install"
      onClick={() => {
        // A prompt can be shown once; whatever the person answers, this offer is used up.
        setOffer(undefined);
        void offer
          .prompt()
          .then(() => offer.userChoice)
          .catch(() => undefined);
      }}
    >
      Install
    </button>
  );
}

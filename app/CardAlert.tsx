/**
 * A message about one part of the page, shown where that part is (a counter's card, the
 * archive), with a button that dismisses it. The alert region stays in the page while empty, so
 * a message put in it later is announced.
 */
export function CardAlert({
  problem,
  about,
  onDismiss,
}: {
  problem: string | undefined;
  /** What the message is about, for the dismiss button's name ("Dismiss message about …"). */
  about: string;
  onDismiss: () => void;
}) {
  return (
    <div role="alert" className={problem ? 'card-alert' : 'card-alert alert-empty'}>
      {problem && (
        <>
          <span>{problem}</span>
          <button
            type="button"
            className="link"
            aria-label={`Dismiss message about ${about}`}
            onClick={onDismiss}
          >
            ×
          </button>
        </>
      )}
    </div>
  );
}

import { Component, type ReactNode } from 'react';

/**
 * A part of the page that failed to draw says so in a sentence, and the rest of the page keeps
 * working (React unmounts everything above a render error that nothing catches).
 */
export class ErrorBoundary extends Component<
  {
    readonly what: string;
    readonly children: ReactNode;
    /** Puts the message where the failed part stood (a list item in a list). */
    readonly wrap?: (message: ReactNode) => ReactNode;
  },
  { readonly error: Error | undefined }
> {
  override state = { error: undefined as Error | undefined };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    const { wrap = (message: ReactNode) => message } = this.props;
    return wrap(
      <div role="alert" className="card-alert">
        <span>
          {this.props.what} could not be shown: {error.message}
        </span>
        <button type="button" className="link" onClick={() => this.setState({ error: undefined })}>
          Try again
        </button>
      </div>,
    );
  }
}

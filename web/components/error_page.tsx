/** The body of an HTML error page: what went wrong and a way back. */
export interface ErrorPageProps {
  status: number;
  message: string;
}

export function ErrorPage({ status, message }: ErrorPageProps) {
  return (
    <section class="card empty-state">
      <p class="error-status">{status}</p>
      <p>{message}</p>
      <p>
        <a class="button" href="/">Back to the marketplace</a>
      </p>
    </section>
  );
}

/** A horizontal progress bar for a percentage (0–100), announced as a `progressbar`. */
export function ProgressBar({ percent }: { percent: number }) {
  return (
    <div
      class="progress"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
    >
      <span class="progress-bar" style={{ width: `${percent}%` }} />
    </div>
  );
}

import { countdownLevel, countdownText } from '../lib/countdown';

interface CountdownProps {
  readonly notAfter: string;
  readonly days: number;
  readonly now: number;
  readonly testId?: string;
}

/** Days-left badge: neutral above 30 days, amber at 30 or fewer, red at 7 or fewer. */
export function Countdown({ notAfter, days, now, testId }: CountdownProps) {
  const level = countdownLevel(days);
  return (
    <span className={`countdown countdown-${level}`} data-testid={testId} data-days={days} data-level={level}>
      {countdownText(notAfter, now, days)}
    </span>
  );
}

import { renewalState } from '../../../shared/renewal';
import { countdownText, levelOf } from '../lib/countdown';

interface CountdownProps {
  readonly notBefore: string;
  readonly notAfter: string;
  readonly days: number;
  readonly now: number;
  readonly testId?: string;
}

const TITLES = {
  ok: 'renewal not due yet',
  due: 'renewal due: 2/3 of its lifetime has passed',
  overdue: 'renewal overdue: 90 % of its lifetime has passed',
  expired: 'expired',
} as const;

/** Time-left badge, coloured by the lifetime rule (src/shared/renewal.ts): amber when due, red when overdue. */
export function Countdown({ notBefore, notAfter, days, now, testId }: CountdownProps) {
  const renewal = renewalState({ notBefore, notAfter }, now);
  const level = levelOf(renewal);
  return (
    <span
      className={`countdown countdown-${level}`}
      data-testid={testId}
      data-days={days}
      data-level={level}
      data-renewal={renewal}
      title={TITLES[renewal]}
    >
      {countdownText(notAfter, now, days)}
    </span>
  );
}

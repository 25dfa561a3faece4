import { isIPv4, isIPv6 } from 'node:net';
import { GeneralName } from '@peculiar/asn1-x509';

/** Expands any IPv6 spelling (incl. `::ffff:1.2.3.4`) to eight hex groups, the only form the ASN.1 IP converter parses. */
function expandIpv6(ip: string): string {
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].join(':');
}

/** SAN entry for a host that was already validated as a DNS name or an IP address. */
export function hostToGeneralName(host: string): GeneralName {
  if (isIPv4(host)) return new GeneralName({ iPAddress: host });
  if (isIPv6(host)) return new GeneralName({ iPAddress: expandIpv6(host) });
  return new GeneralName({ dNSName: host });
}

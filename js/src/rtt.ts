// Round-trip time and loss, as netcode's Stats have them (netcode/stats.go).

/**
 * RTT smooths round-trip samples as TCP does (RFC 6298), seeded from the
 * lowest of the first four samples: the first ping goes out as the
 * channels open, while the server may still be busy with the handshake,
 * and a startup delay only ever inflates a sample.
 */
export class RTT {
  srtt = 0;
  rttvar = 0;
  private n = 0;

  add(sample: number): void {
    this.n++;
    if (this.srtt === 0 || (this.n <= 4 && sample < this.srtt)) {
      this.srtt = sample;
      this.rttvar = sample / 2;
      return;
    }
    this.rttvar += (Math.abs(this.srtt - sample) - this.rttvar) / 4;
    this.srtt += (sample - this.srtt) / 8;
  }
}

/** Loss is the recent fraction of snapshots lost, smoothed over about four ping intervals. */
export class Loss {
  value = 0;
  private prevLost = 0;
  private prevRecv = 0;

  update(lost: number, received: number): void {
    const dl = lost - this.prevLost;
    const dr = received - this.prevRecv;
    this.prevLost = lost;
    this.prevRecv = received;
    if (dl + dr === 0) return;
    this.value += (dl / (dl + dr) - this.value) / 4;
  }
}

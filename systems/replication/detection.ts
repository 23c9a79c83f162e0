/** Misbehaviour that a correct node noticed, with the node it suspects. */

export type DetectionKind =
  | 'malformed' // an authenticated message whose content does not parse
  | 'sequence' // a batch or chain position out of order
  | 'equivocation' // two different attested messages for the same position
  | 'output' // outputs that differ from this node's own execution
  | 'counter-gap' // a counter never arrived: the sender withheld it or sent it to someone else
  | 'unreachable' // the channel to the node failed (crash or partition)
  | 'silent'; // the leader did not propose, in time, a request that a client sent to a follower

export interface Detection {
  /** The node that noticed. */
  by: string;
  /** The node suspected. */
  suspect: string;
  kind: DetectionKind;
  detail: string;
}

// Kept for the modules that import address handling from the resolver layer; it lives in discovery/.
export { formatAddress, parseAddress, type HostPort } from '../discovery/address';

export { Channel, type ChannelOptions, type ChannelWaitOptions } from './channel';

// The protobuf messages of headroom.v1 (schemas/headroom/v1/*.proto), generated
// by pbjs into gen/ at build time. Each message is exported as its class (a
// value with static encode/decode/verify/fromObject/toObject, and the decoded
// type) and as I<Name>, the plain-object shape that encode and create accept.
import "./numbers.ts";
import { headroom } from "../gen/headroom.js";

export { headroom };
export const v1 = headroom.v1;

// common.proto
export const Capacity = headroom.v1.Capacity;
export type Capacity = headroom.v1.Capacity;
export type ICapacity = headroom.v1.Capacity.$Properties;
export const GuestResources = headroom.v1.GuestResources;
export type GuestResources = headroom.v1.GuestResources;
export type IGuestResources = headroom.v1.GuestResources.$Properties;
export const GuestPort = headroom.v1.GuestPort;
export type GuestPort = headroom.v1.GuestPort;
export type IGuestPort = headroom.v1.GuestPort.$Properties;
export const FieldError = headroom.v1.FieldError;
export type FieldError = headroom.v1.FieldError;
export type IFieldError = headroom.v1.FieldError.$Properties;
export const ErrorReply = headroom.v1.ErrorReply;
export type ErrorReply = headroom.v1.ErrorReply;
export type IErrorReply = headroom.v1.ErrorReply.$Properties;

// api.proto
export const ApplyRequest = headroom.v1.ApplyRequest;
export type ApplyRequest = headroom.v1.ApplyRequest;
export type IApplyRequest = headroom.v1.ApplyRequest.$Properties;
export const Outcome = headroom.v1.Outcome;
export type Outcome = headroom.v1.Outcome;
export const Accepted = headroom.v1.Accepted;
export type Accepted = headroom.v1.Accepted;
export type IAccepted = headroom.v1.Accepted.$Properties;
export const Rejected = headroom.v1.Rejected;
export type Rejected = headroom.v1.Rejected;
export type IRejected = headroom.v1.Rejected.$Properties;
export const ApplyReply = headroom.v1.ApplyReply;
export type ApplyReply = headroom.v1.ApplyReply;
export type IApplyReply = headroom.v1.ApplyReply.$Properties;
export const DeleteRequest = headroom.v1.DeleteRequest;
export type DeleteRequest = headroom.v1.DeleteRequest;
export type IDeleteRequest = headroom.v1.DeleteRequest.$Properties;
export const DeleteReply = headroom.v1.DeleteReply;
export type DeleteReply = headroom.v1.DeleteReply;
export type IDeleteReply = headroom.v1.DeleteReply.$Properties;
export const VmiRecord = headroom.v1.VmiRecord;
export type VmiRecord = headroom.v1.VmiRecord;
export type IVmiRecord = headroom.v1.VmiRecord.$Properties;
export const GetRequest = headroom.v1.GetRequest;
export type GetRequest = headroom.v1.GetRequest;
export type IGetRequest = headroom.v1.GetRequest.$Properties;
export const GetReply = headroom.v1.GetReply;
export type GetReply = headroom.v1.GetReply;
export type IGetReply = headroom.v1.GetReply.$Properties;
export const ListRequest = headroom.v1.ListRequest;
export type ListRequest = headroom.v1.ListRequest;
export type IListRequest = headroom.v1.ListRequest.$Properties;
export const ListReply = headroom.v1.ListReply;
export type ListReply = headroom.v1.ListReply;
export type IListReply = headroom.v1.ListReply.$Properties;

// pipeline.proto
export const VmiAccepted = headroom.v1.VmiAccepted;
export type VmiAccepted = headroom.v1.VmiAccepted;
export type IVmiAccepted = headroom.v1.VmiAccepted.$Properties;
export const VmiDeleted = headroom.v1.VmiDeleted;
export type VmiDeleted = headroom.v1.VmiDeleted;
export type IVmiDeleted = headroom.v1.VmiDeleted.$Properties;
export const DomainPlan = headroom.v1.DomainPlan;
export type DomainPlan = headroom.v1.DomainPlan;
export type IDomainPlan = headroom.v1.DomainPlan.$Properties;
export const InterfaceRefused = headroom.v1.InterfaceRefused;
export type InterfaceRefused = headroom.v1.InterfaceRefused;
export type IInterfaceRefused = headroom.v1.InterfaceRefused.$Properties;

// status.proto
export const Phase = headroom.v1.Phase;
export type Phase = headroom.v1.Phase;
export const CapacityStatus = headroom.v1.CapacityStatus;
export type CapacityStatus = headroom.v1.CapacityStatus;
export type ICapacityStatus = headroom.v1.CapacityStatus.$Properties;
export const InterfaceState = headroom.v1.InterfaceState;
export type InterfaceState = headroom.v1.InterfaceState;
export const InterfaceStatus = headroom.v1.InterfaceStatus;
export type InterfaceStatus = headroom.v1.InterfaceStatus;
export type IInterfaceStatus = headroom.v1.InterfaceStatus.$Properties;
export const ForwardedPort = headroom.v1.ForwardedPort;
export type ForwardedPort = headroom.v1.ForwardedPort;
export type IForwardedPort = headroom.v1.ForwardedPort.$Properties;
export const VmiStatus = headroom.v1.VmiStatus;
export type VmiStatus = headroom.v1.VmiStatus;
export type IVmiStatus = headroom.v1.VmiStatus.$Properties;
export const CapacityEventType = headroom.v1.CapacityEventType;
export type CapacityEventType = headroom.v1.CapacityEventType;
export const CapacityEvent = headroom.v1.CapacityEvent;
export type CapacityEvent = headroom.v1.CapacityEvent;
export type ICapacityEvent = headroom.v1.CapacityEvent.$Properties;

// hotplug.proto
export const AddInterfaceRequest = headroom.v1.AddInterfaceRequest;
export type AddInterfaceRequest = headroom.v1.AddInterfaceRequest;
export type IAddInterfaceRequest = headroom.v1.AddInterfaceRequest.$Properties;
export const RemoveInterfaceRequest = headroom.v1.RemoveInterfaceRequest;
export type RemoveInterfaceRequest = headroom.v1.RemoveInterfaceRequest;
export type IRemoveInterfaceRequest = headroom.v1.RemoveInterfaceRequest.$Properties;
export const InterfaceReply = headroom.v1.InterfaceReply;
export type InterfaceReply = headroom.v1.InterfaceReply;
export type IInterfaceReply = headroom.v1.InterfaceReply.$Properties;
export const DescribeRequest = headroom.v1.DescribeRequest;
export type DescribeRequest = headroom.v1.DescribeRequest;
export type IDescribeRequest = headroom.v1.DescribeRequest.$Properties;
export const DescribeReply = headroom.v1.DescribeReply;
export type DescribeReply = headroom.v1.DescribeReply;
export type IDescribeReply = headroom.v1.DescribeReply.$Properties;

// pipeline.proto: what a plan asks the host to prepare
export const DiskFile = headroom.v1.DiskFile;
export type DiskFile = headroom.v1.DiskFile;
export type IDiskFile = headroom.v1.DiskFile.$Properties;
export const CloudInitSeed = headroom.v1.CloudInitSeed;
export type CloudInitSeed = headroom.v1.CloudInitSeed;
export type ICloudInitSeed = headroom.v1.CloudInitSeed.$Properties;
export const HostDisk = headroom.v1.HostDisk;
export type HostDisk = headroom.v1.HostDisk;
export type IHostDisk = headroom.v1.HostDisk.$Properties;
export const VolumeClaim = headroom.v1.VolumeClaim;
export type VolumeClaim = headroom.v1.VolumeClaim;
export type IVolumeClaim = headroom.v1.VolumeClaim.$Properties;

// network.proto
export const NetworkAttachment = headroom.v1.NetworkAttachment;
export type NetworkAttachment = headroom.v1.NetworkAttachment;
export type INetworkAttachment = headroom.v1.NetworkAttachment.$Properties;
export const CreateNetworkRequest = headroom.v1.CreateNetworkRequest;
export type CreateNetworkRequest = headroom.v1.CreateNetworkRequest;
export type ICreateNetworkRequest = headroom.v1.CreateNetworkRequest.$Properties;
export const CreateNetworkReply = headroom.v1.CreateNetworkReply;
export type CreateNetworkReply = headroom.v1.CreateNetworkReply;
export type ICreateNetworkReply = headroom.v1.CreateNetworkReply.$Properties;
export const DeleteNetworkRequest = headroom.v1.DeleteNetworkRequest;
export type DeleteNetworkRequest = headroom.v1.DeleteNetworkRequest;
export type IDeleteNetworkRequest = headroom.v1.DeleteNetworkRequest.$Properties;
export const DeleteNetworkReply = headroom.v1.DeleteNetworkReply;
export type DeleteNetworkReply = headroom.v1.DeleteNetworkReply;
export type IDeleteNetworkReply = headroom.v1.DeleteNetworkReply.$Properties;
export const ListNetworksRequest = headroom.v1.ListNetworksRequest;
export type ListNetworksRequest = headroom.v1.ListNetworksRequest;
export type IListNetworksRequest = headroom.v1.ListNetworksRequest.$Properties;
export const ListNetworksReply = headroom.v1.ListNetworksReply;
export type ListNetworksReply = headroom.v1.ListNetworksReply;
export type IListNetworksReply = headroom.v1.ListNetworksReply.$Properties;

// console.proto
export const ConsoleLogRequest = headroom.v1.ConsoleLogRequest;
export type ConsoleLogRequest = headroom.v1.ConsoleLogRequest;
export type IConsoleLogRequest = headroom.v1.ConsoleLogRequest.$Properties;
export const ConsoleLogReply = headroom.v1.ConsoleLogReply;
export type ConsoleLogReply = headroom.v1.ConsoleLogReply;
export type IConsoleLogReply = headroom.v1.ConsoleLogReply.$Properties;

export { exhaustedMessage } from "./capacity.ts";
export {
  DEFAULT_LOST_AFTER_MS,
  HEARTBEATS_TO_NOT_READY,
  type HostLoss,
  type HostReadiness,
  hostLoss,
  hostReadiness,
  statusOnHost,
} from "./host.ts";

// image.proto
export const DeleteImageRequest = headroom.v1.DeleteImageRequest;
export type DeleteImageRequest = headroom.v1.DeleteImageRequest;
export type IDeleteImageRequest = headroom.v1.DeleteImageRequest.$Properties;
export const DeleteImageReply = headroom.v1.DeleteImageReply;
export type DeleteImageReply = headroom.v1.DeleteImageReply;
export type IDeleteImageReply = headroom.v1.DeleteImageReply.$Properties;
export const HeldImage = headroom.v1.HeldImage;
export type HeldImage = headroom.v1.HeldImage;
export type IHeldImage = headroom.v1.HeldImage.$Properties;
export const PruneImagesRequest = headroom.v1.PruneImagesRequest;
export type PruneImagesRequest = headroom.v1.PruneImagesRequest;
export type IPruneImagesRequest = headroom.v1.PruneImagesRequest.$Properties;
export const PruneImagesReply = headroom.v1.PruneImagesReply;
export type PruneImagesReply = headroom.v1.PruneImagesReply;
export type IPruneImagesReply = headroom.v1.PruneImagesReply.$Properties;

// host.proto
export const HostRecord = headroom.v1.HostRecord;
export type HostRecord = headroom.v1.HostRecord;
export type IHostRecord = headroom.v1.HostRecord.$Properties;
export const HostCondition = headroom.v1.HostCondition;
export type HostCondition = headroom.v1.HostCondition;
export const Placement = headroom.v1.Placement;
export type Placement = headroom.v1.Placement;
export type IPlacement = headroom.v1.Placement.$Properties;

// volume.proto
export const Volume = headroom.v1.Volume;
export type Volume = headroom.v1.Volume;
export type IVolume = headroom.v1.Volume.$Properties;
export const CreateVolumeRequest = headroom.v1.CreateVolumeRequest;
export type CreateVolumeRequest = headroom.v1.CreateVolumeRequest;
export type ICreateVolumeRequest = headroom.v1.CreateVolumeRequest.$Properties;
export const CreateVolumeReply = headroom.v1.CreateVolumeReply;
export type CreateVolumeReply = headroom.v1.CreateVolumeReply;
export type ICreateVolumeReply = headroom.v1.CreateVolumeReply.$Properties;
export const ListVolumesRequest = headroom.v1.ListVolumesRequest;
export type ListVolumesRequest = headroom.v1.ListVolumesRequest;
export type IListVolumesRequest = headroom.v1.ListVolumesRequest.$Properties;
export const ListVolumesReply = headroom.v1.ListVolumesReply;
export type ListVolumesReply = headroom.v1.ListVolumesReply;
export type IListVolumesReply = headroom.v1.ListVolumesReply.$Properties;
export const DeleteVolumeRequest = headroom.v1.DeleteVolumeRequest;
export type DeleteVolumeRequest = headroom.v1.DeleteVolumeRequest;
export type IDeleteVolumeRequest = headroom.v1.DeleteVolumeRequest.$Properties;
export const DeleteVolumeReply = headroom.v1.DeleteVolumeReply;
export type DeleteVolumeReply = headroom.v1.DeleteVolumeReply;
export type IDeleteVolumeReply = headroom.v1.DeleteVolumeReply.$Properties;

using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.Ceph.Interop;

/// <summary>A <c>rados_t</c>: shut down when released.</summary>
internal sealed class RadosClusterHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    /// <summary>Created by the interop marshaller.</summary>
    public RadosClusterHandle()
        : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle()
    {
        LibRados.Shutdown(handle);
        return true;
    }
}

/// <summary>
/// A handle that keeps the handle it was created from alive until it is released itself (an I/O context keeps
/// its cluster connection; an image keeps its I/O context), so releases happen child first whatever the order
/// of disposal or finalization.
/// </summary>
internal abstract class DependentHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private SafeHandle? _parent;

    protected DependentHandle()
        : base(ownsHandle: true)
    {
    }

    /// <summary>Ties this handle to <paramref name="parent"/>, which stays open until this one is released.</summary>
    public void SetParent(SafeHandle parent)
    {
        var added = false;
        parent.DangerousAddRef(ref added);
        _parent = parent;
    }

    protected sealed override bool ReleaseHandle()
    {
        try
        {
            return ReleaseOwnHandle();
        }
        finally
        {
            _parent?.DangerousRelease();
        }
    }

    protected abstract bool ReleaseOwnHandle();
}

/// <summary>A <c>rados_ioctx_t</c> (one pool, optionally one namespace).</summary>
internal sealed class RadosIoContextHandle : DependentHandle
{
    protected override bool ReleaseOwnHandle()
    {
        LibRados.IoContextDestroy(handle);
        return true;
    }
}

/// <summary>An open <c>rbd_image_t</c> (the live image or a snapshot).</summary>
internal sealed class RbdImageHandle : DependentHandle
{
    protected override bool ReleaseOwnHandle() => LibRbd.Close(handle) == 0;
}

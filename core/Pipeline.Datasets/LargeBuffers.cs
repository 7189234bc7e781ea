using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Pipeline.Datasets;

/// <summary>
/// Buffers of megabytes that a build allocates once and fills in full or at random (the duplicate-check table, Parquet
/// row groups). On Linux they are advised to be backed by 2 MB transparent huge pages where the host allows it
/// (<c>/sys/kernel/mm/transparent_hugepage/enabled</c> is <c>always</c> or <c>madvise</c>): filling one then takes a page
/// fault per 2 MB instead of per 4 KB. A fault is far from free on a virtual machine: on the benchmark host, clearing an
/// 8 MB table page by page took 31–34 ms, on huge pages ~10 ms (docs/benchmarks.md, "seventh round").
/// Elsewhere, or below 2 MB, they are plain arrays.
/// </summary>
public static partial class LargeBuffers
{
    private const int HugePage = 2 << 20;

    /// <summary><c>MADV_HUGEPAGE</c>.</summary>
    private const int AdviseHugePage = 14;

    /// <summary>A zeroed buffer of <paramref name="length"/> elements, 2 MB-aligned and advised to use huge pages when it is that large.</summary>
    public static ArraySegment<T> Allocate<T>(int length)
        where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var size = Unsafe.SizeOf<T>();
        var bytes = (long)length * size;
        if (!OperatingSystem.IsLinux() || bytes < HugePage || size > 8 || !int.IsPow2(size))
        {
            return new T[length];
        }

        // Pinned (the advice is for these addresses) and a huge page longer than asked, so that the part handed out can
        // start on a 2 MB boundary; fresh memory from the GC is not touched by the allocation, so no page is faulted yet.
        var slack = HugePage / size;
        if (length > Array.MaxLength - slack)
        {
            return new T[length];
        }

        var array = GC.AllocateArray<T>(length + slack, pinned: true);
        var address = Marshal.UnsafeAddrOfPinnedArrayElement(array, 0);
        var skip = (int)((HugePage - (address & (HugePage - 1))) & (HugePage - 1)) / size;
        // Advice only: where huge pages are off or none is free, the kernel falls back to small pages.
        if (_advise)
        {
            try
            {
                // Whole huge pages only: a partial one could not be backed by one anyway, and the advice stays inside the array.
                _ = Advise(address + (skip * size), (nuint)(bytes & ~(long)(HugePage - 1)), AdviseHugePage);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // A C library without madvise where the runtime looks: plain pages from here on.
                _advise = false;
            }
        }

        return new ArraySegment<T>(array, skip, length);
    }

    private static bool _advise = true;

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Advise(nint address, nuint length, int advice);
}

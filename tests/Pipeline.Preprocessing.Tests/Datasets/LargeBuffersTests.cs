using System.Runtime.InteropServices;
using Pipeline.Datasets;

namespace Pipeline.Tests.Core.Datasets;

public class LargeBuffersTests
{
    [Theory]
    [InlineData(1000)]
    [InlineData(1 << 20)] // 8 MB of ulong: the huge-page path on Linux
    [InlineData((1 << 18) + 3)] // just past 2 MB, not a whole number of huge pages
    public void Allocate_ReturnsAZeroedWritableBufferOfTheLength(int length)
    {
        var buffer = LargeBuffers.Allocate<ulong>(length);

        Assert.Equal(length, buffer.Count);
        Assert.DoesNotContain(buffer.AsSpan().ToArray(), v => v != 0);
        buffer.AsSpan().Fill(ulong.MaxValue);
        Assert.All(buffer, v => Assert.Equal(ulong.MaxValue, v));
    }

    [Fact]
    public void Allocate_PastTwoMegabytesOnLinux_StartsOnAHugePageBoundaryOfAPinnedArray()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Huge pages are advised on Linux only.");
        var buffer = LargeBuffers.Allocate<float>(3 << 20);

        var address = Marshal.UnsafeAddrOfPinnedArrayElement(buffer.Array!, buffer.Offset);
        Assert.Equal(0, address % (2 << 20));
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        Assert.Equal(address, Marshal.UnsafeAddrOfPinnedArrayElement(buffer.Array!, buffer.Offset));
    }
}

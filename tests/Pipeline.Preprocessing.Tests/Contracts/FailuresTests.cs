using Azure;
using Pipeline.Contracts;

namespace Pipeline.Tests.Contracts;

#pragma warning disable CA2201 // the runtime's exceptions, as a build or a training job would meet them
public sealed class FailuresTests
{
    [Fact]
    public void Exhausted_MemoryAndFullDisk_EvenWrappedByColumnTasks_OtherIoIsNot()
    {
        Assert.Equal("memory", Failures.Exhausted(new OutOfMemoryException()));
        Assert.Equal("disk space", Failures.Exhausted(new AggregateException(new IOException("No space left on device", 28))));
        Assert.Equal("memory", Failures.Exhausted(new InvalidOperationException("wrapped", new OutOfMemoryException())));
        Assert.Null(Failures.Exhausted(new IOException("connection reset")));
        Assert.Null(Failures.Exhausted(new ArgumentException("a bug")));
    }

    public static TheoryData<Exception, FailureKind> Cases() => new()
    {
        { new RequestFailedException(503, "Server busy"), FailureKind.Transient },
        { new RequestFailedException(0, "connection refused"), FailureKind.Transient },
        { new RequestFailedException(429, "throttled"), FailureKind.Transient },
        { new AggregateException(new RequestFailedException(500, "a"), new HttpRequestException("b")), FailureKind.Transient },
        { new IOException("connection reset"), FailureKind.Transient },
        { new TimeoutException(), FailureKind.Transient },
        { new RequestFailedException(403, "This request is not authorized"), FailureKind.Permanent },
        { new OverflowException("Arithmetic operation resulted in an overflow."), FailureKind.Permanent },
        { new IndexOutOfRangeException(), FailureKind.Permanent },
        { new AggregateException(new RequestFailedException(500, "a"), new ArgumentException("b")), FailureKind.Permanent },
        { new OutOfMemoryException(), FailureKind.ResourceExhausted },
        { new AggregateException(new IOException("No space left on device", 28)), FailureKind.ResourceExhausted },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Classify_RetriesOnlyWhatAnotherAttemptMayNotMeet(Exception exception, FailureKind expected) =>
        Assert.Equal(expected, Failures.Classify(exception));

    [Fact]
    public void Describe_SaysWhyAnotherAttemptWouldNotHelp()
    {
        Assert.StartsWith("cannot succeed on this input (OverflowException: ", Failures.Describe(new OverflowException("x")), StringComparison.Ordinal);
        Assert.StartsWith("ran out of memory (", Failures.Describe(new OutOfMemoryException()), StringComparison.Ordinal);
    }
}
#pragma warning restore CA2201

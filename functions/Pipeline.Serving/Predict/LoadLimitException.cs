namespace Pipeline.Serving.Predict;

/// <summary>
/// A request pinned a version that is not loaded while too many such loads run or ran recently
/// (<see cref="ModelOptions.ColdLoadConcurrency"/>, <see cref="ModelOptions.ColdLoadsPerMinute"/>). Callers answer
/// <see cref="Status"/> (503 or 429) with <c>Retry-After</c>.
/// </summary>
public sealed class LoadLimitException(string message, int status, TimeSpan retryAfter) : Exception(message)
{
    public int Status { get; } = status;

    public TimeSpan RetryAfter { get; } = retryAfter;
}

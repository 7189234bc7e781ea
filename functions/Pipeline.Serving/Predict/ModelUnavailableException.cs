namespace Pipeline.Serving.Predict;

/// <summary>
/// A model version exists but cannot be served (it failed to load or to answer the smoke prediction). Callers answer
/// 503 with <see cref="Exception.Message"/>, which names the model, the version and the reason, and never a path.
/// </summary>
public sealed class ModelUnavailableException(string model, string version, string reason, Exception? inner = null, bool notReady = false)
    : Exception(notReady ? $"Version '{version}' of model '{model}' is not ready yet: {reason}" : $"Version '{version}' of model '{model}' cannot be served: {reason}", inner)
{
    /// <summary>The version is still being published (its manifest is not there yet): not remembered as a failure, try again shortly.</summary>
    public bool NotReady { get; } = notReady;

    public string Model { get; } = model;

    public string Version { get; } = version;

    public string Reason { get; } = reason;
}

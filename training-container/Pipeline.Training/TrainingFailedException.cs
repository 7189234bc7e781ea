namespace Pipeline.Training;

/// <summary>A job that cannot succeed however often it is retried (missing dataset, corrupt data): it goes straight to the poison queue.</summary>
public sealed class TrainingFailedException(string message, Exception? inner = null) : Exception(message, inner);

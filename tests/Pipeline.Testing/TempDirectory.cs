namespace Pipeline.Tests;

/// <summary>A fresh directory under the system temp path, deleted with its contents on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    /// <summary>The directory's full path.</summary>
    public string Path { get; } = Directory.CreateDirectory(
        System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"pipeline-tests-{Guid.NewGuid():N}")).FullName;

    /// <summary>The full path of <paramref name="fileName"/> inside this directory.</summary>
    public string File(string fileName) => System.IO.Path.Combine(Path, fileName);

    /// <inheritdoc/>
    public void Dispose() => Directory.Delete(Path, recursive: true);
}

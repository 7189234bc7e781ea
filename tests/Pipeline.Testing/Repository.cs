namespace Pipeline.Tests.Infrastructure;

/// <summary>Where the repository is, for tests that run its scripts or read what it builds.</summary>
public static class Repository
{
    /// <summary>The folder holding Serverless.sln, above the test assembly's folder.</summary>
    public static string Root()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Serverless.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException($"No Serverless.sln above {AppContext.BaseDirectory}.");
    }
}

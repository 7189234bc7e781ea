namespace Pipeline.Infra.Tests;

internal static class RepositoryPaths
{
    /// <summary>The repository root: the nearest ancestor of the test binaries holding Serverless.sln.</summary>
    public static string Root { get; } = FindRoot();

    public static string MainBicep => Path.Combine(Root, "infra", "main.bicep");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Serverless.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Serverless.sln above '{AppContext.BaseDirectory}'.");
    }
}

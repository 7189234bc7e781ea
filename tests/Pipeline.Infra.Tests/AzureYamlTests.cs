namespace Pipeline.Infra.Tests;

/// <summary>
/// azure.yaml's services point at folders holding what their <c>language</c> needs: azd's dotnet support looks for exactly
/// one project file in the service folder (also for container apps); docker needs the Dockerfile and the build context,
/// both relative to the service folder.
/// </summary>
public sealed class AzureYamlTests
{
    private sealed record Service(string Name, Dictionary<string, string> Values);

    /// <summary>The <c>services:</c> section: each service's keys, nested keys joined with a dot (<c>docker.path</c>).</summary>
    private static List<Service> Services()
    {
        var services = new List<Service>();
        var inServices = false;
        string? parent = null;
        foreach (var raw in File.ReadAllLines(Path.Combine(RepositoryPaths.Root, "azure.yaml")))
        {
            var line = raw.Split('#')[0].TrimEnd();
            if (line.Length == 0)
            {
                continue;
            }

            var indent = line.Length - line.TrimStart().Length;
            var (key, value) = (line.Trim().Split(':', 2)[0], line.Trim().Split(':', 2).ElementAtOrDefault(1)?.Trim().Trim('"') ?? "");
            if (indent == 0)
            {
                inServices = key == "services";
            }
            else if (inServices && indent == 2)
            {
                services.Add(new Service(key, []));
                parent = null;
            }
            else if (inServices && indent == 4)
            {
                parent = value.Length == 0 ? key : null;
                services[^1].Values[key] = value;
            }
            else if (inServices && indent == 6 && parent is not null)
            {
                services[^1].Values[$"{parent}.{key}"] = value;
            }
        }

        return services;
    }

    [Fact]
    public void Services_AreTheTwoFunctionAppsTheTrainerAndTheScorer()
    {
        Assert.Equal(["functions", "serving", "trainer", "scorer"], Services().Select(s => s.Name));
    }

    [Fact]
    public void Services_Dotnet_HaveExactlyOneProjectFile_Docker_HaveTheirDockerfileAndContext()
    {
        foreach (var service in Services())
        {
            var folder = Path.Combine(RepositoryPaths.Root, service.Values["project"]);
            Assert.True(Directory.Exists(folder), $"{service.Name}: {folder} does not exist");
            switch (service.Values["language"])
            {
                case "dotnet":
                    Assert.Single(Directory.GetFiles(folder, "*.*proj"));
                    break;
                case "docker":
                    Assert.True(File.Exists(Path.Combine(folder, service.Values.GetValueOrDefault("docker.path", "Dockerfile"))), $"{service.Name}: no Dockerfile");
                    var context = Path.GetFullPath(Path.Combine(folder, service.Values.GetValueOrDefault("docker.context", ".")));
                    Assert.True(File.Exists(Path.Combine(context, "Directory.Build.props")), $"{service.Name}: the context {context} is not the repository root the Dockerfile copies from");
                    Assert.Equal("true", service.Values["docker.remoteBuild"]);
                    break;
                default:
                    Assert.Fail($"{service.Name}: unexpected language {service.Values["language"]}");
                    break;
            }
        }
    }

    [Fact]
    public void Trainer_IsAContainerAppsServiceBuiltFromDocker()
    {
        var trainer = Services().Single(s => s.Name == "trainer");

        Assert.Equal(("docker", "containerapp"), (trainer.Values["language"], trainer.Values["host"]));
    }

    [Fact]
    public void Scorer_IsTheTrainersDockerfileBuiltForCpu()
    {
        var text = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "azure.yaml"));
        var (trainer, scorer) = (Services().Single(s => s.Name == "trainer"), Services().Single(s => s.Name == "scorer"));

        Assert.Equal(("docker", "containerapp"), (scorer.Values["language"], scorer.Values["host"]));
        Assert.Equal((trainer.Values["project"], trainer.Values["docker.path"], trainer.Values["docker.context"]), (scorer.Values["project"], scorer.Values["docker.path"], scorer.Values["docker.context"]));
        // buildArgs is a list (azd's schema: array of strings), which the flat reader above does not keep.
        Assert.Contains("      buildArgs:\n        - TORCH_BACKEND=cpu\n", text.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("ARG TORCH_BACKEND=", File.ReadAllText(Path.Combine(RepositoryPaths.Root, "training-container", "Dockerfile")), StringComparison.Ordinal);
    }

    [Fact]
    public void RequiredAzdVersion_KeepsUnixModesInFunctionPackages()
    {
        var text = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "azure.yaml"));

        Assert.Contains("azd: \">= 1.26.0\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public void DockerIgnore_KeepsAzdEnvironmentTestsBenchAndBuildOutputOutOfTheContext()
    {
        var ignored = File.ReadAllLines(Path.Combine(RepositoryPaths.Root, ".dockerignore")).Select(l => l.Trim()).ToHashSet();

        foreach (var entry in new[] { ".azure/", "tests/", "bench/", "artifacts/", "**/bin/", "**/obj/" })
        {
            Assert.Contains(entry, ignored);
        }
    }
}

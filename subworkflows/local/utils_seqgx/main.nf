/*
 * Functions main.nf uses at the head job: parameter validation, optional inputs, the cohort VCFs.
 * Kept here so main.nf reads as the pipeline's wiring.
 */


/*
 * Validate params against nextflow_schema.json and log the summary. With the nf-schema plugin loaded
 * (declared in nextflow.config unless SEQGX_NO_PLUGINS=true) its validateParameters() and
 * paramsSummaryLog() do it, as in nf-core pipelines; without it (offline: no plugin registry) the
 * same schema is checked here: required, type, enum, minimum, pattern and files that must exist.
 */
def validateSeqgxParams(schemaFile, workflowMeta) {
    // Rules across parameters (exactly one of expression and tissues, ...) are seqgx.params', checked
    // by the PLAN process (seqgx plan) as `seqgx run` checks them.
    if (nextflow.plugin.Plugins.isStarted('nf-schema')) {
        // The plugin's functions are loaded only when the plugin is there, so that an offline run
        // (no plugin) still parses this file; include {..} from 'plugin/nf-schema' cannot be optional.
        nextflow.plugin.extension.PluginExtensionProvider.INSTANCE().loadPluginExtensionMethods('nf-schema',
            [validateParameters: 'validateParameters', paramsSummaryLog: 'paramsSummaryLog'])
        def meta = nextflow.script.ScriptMeta.current()
        meta.getComponent('validateParameters').invoke_a([].toArray())
        log.info meta.getComponent('paramsSummaryLog').invoke_a([workflowMeta].toArray()).toString()
        return
    }
    def problems = schemaProblems(params, schemaFile)
    if (problems) {
        error("Invalid parameters (checked against ${schemaFile.name}):\n  " + problems.join('\n  '))
    }
    def defaults = schemaDefaults(schemaFile)
    def changed = params.findAll { k, v -> defaults.containsKey(k) && v != defaults[k] }
    log.info "seqgx parameters (schema-checked without nf-schema; not at their default):\n" +
        changed.collect { k, v -> "  ${k}: ${v}" }.join('\n')
}

def schemaProperties(schemaFile) {
    def schema = new groovy.json.JsonSlurper().parse(schemaFile.toFile())
    def props = [:]
    def required = []
    schema['$defs'].each { _name, group ->
        props.putAll(group.properties)
        required.addAll(group.required ?: [])
    }
    return [props, required]
}

def schemaDefaults(schemaFile) {
    def (props, _required) = schemaProperties(schemaFile)
    return props.findAll { _k, p -> p.containsKey('default') }.collectEntries { k, p -> [(k): p.default] }
}

/* Every way the params break the schema, one line each (empty when they are valid). */
def schemaProblems(Map values, schemaFile) {
    def (props, required) = schemaProperties(schemaFile)
    def problems = []
    required.each { name ->
        if (values[name] == null || values[name] == '') {
            problems << "--${name} is required: ${props[name].description}"
        }
    }
    values.each { name, value ->
        def prop = props[name]
        if (prop == null) {
            // Nextflow adds a camelCase twin of every snake_case or kebab-case parameter.
            def snake = name.replaceAll(/([A-Z])/) { "_${it[0].toLowerCase()}" }.replace('-', '_')
            if (!props.containsKey(snake)) {
                log.warn "--${name} is not a seqgx parameter (see nextflow_schema.json); ignored"
            }
            return
        }
        if (value == null) {
            return
        }
        def ok = [
            string : value instanceof CharSequence || value instanceof Number,
            integer: value instanceof Integer || value instanceof Long || value instanceof BigInteger,
            number : value instanceof Number,
            boolean: value instanceof Boolean,
        ][prop.type]
        if (!ok) {
            problems << "--${name} must be of type ${prop.type}, got '${value}'"
            return
        }
        if (prop.minLength && value.toString().length() < prop.minLength) {
            problems << "--${name} is empty: give a value or leave it out for the default"
            return
        }
        if (prop['enum'] && !(value.toString() in prop['enum'])) {
            problems << "--${name} must be one of ${prop['enum'].join(', ')}, got '${value}'"
        }
        if (prop.minimum != null && value instanceof Number && value < prop.minimum) {
            problems << "--${name} must be >= ${prop.minimum}, got ${value}"
        }
        if (prop.pattern && !(value.toString() =~ prop.pattern)) {
            problems << "--${name} must match ${prop.pattern}, got '${value}'"
        }
        if (prop.exists && value.toString()) {
            def found = prop.format == 'file-path-pattern' ? files(value.toString()) : [file(value.toString())]
            if (!found || !found.every { it.exists() }) {
                problems << "--${name}: no file at '${value}'"
            }
        }
    }
    return problems
}

/*
 * With -profile awsbatch: stop before any task when the run cannot work on AWS Batch (a local work
 * directory, no queue or region, no way for tasks to reach S3), with every problem named.
 */
def checkAwsBatch(workflowMeta) {
    if (!workflowMeta.profile.tokenize(',').contains('awsbatch')) {
        return
    }
    def problems = []
    if (workflowMeta.workDir.toUri().scheme != 's3') {
        problems << "the work directory '${workflowMeta.workDir}' is not on S3: run with -work-dir s3://BUCKET/work"
    }
    if (!params.aws_queue) {
        problems << "--aws_queue is not set: name the AWS Batch job queue"
    }
    if (!params.aws_region) {
        problems << "--aws_region is not set: the region of the queues and the bucket"
    }
    if (!params.aws_cli_path && !params.aws_fusion) {
        problems << "set --aws_cli_path (the AWS CLI on the compute environment's AMI) or --aws_fusion true"
    }
    if (problems) {
        error("AWS Batch (-profile awsbatch):\n  " + problems.join('\n  '))
    }
}

/* An optional input file: the file, or [] (nf-core's "no file") when the parameter is unset. */
def optionalFile(value) {
    return value ? file(value, checkIfExists: true) : []
}

/* The index beside a FASTA or VCF file, under the first of the suffixes that exists. */
def indexOf(path, List<String> suffixes) {
    def found = suffixes.collect { file(path.toString() + it) }.find { it.exists() }
    if (!found) {
        error("No index beside '${path}' (looked for ${suffixes.join(', ')}); create it first " +
              "('samtools faidx' for FASTA, 'bcftools index -t' for VCF)")
    }
    return found
}

/*
 * The cohort's VCF/BCF files as [vcf, index] pairs: `vcf` is one file, a glob of per-chromosome
 * files, or a samplesheet (.csv/.tsv with a `vcf` column; relative paths against the sheet's
 * folder). `seqgx check-inputs` maps contigs to files; each task then stages only its own file.
 */
def cohortVcfs(String spec) {
    def vcfs
    if (spec ==~ /.*\.(csv|tsv)$/) {
        def sheet = file(spec, checkIfExists: true)
        def rows = sheet.splitCsv(header: true, sep: spec.endsWith('.tsv') ? '\t' : ',')
        if (!rows || !rows[0].containsKey('vcf')) {
            error("VCF samplesheet '${spec}' needs a header with a 'vcf' column and one row per file")
        }
        vcfs = rows.collect { row ->
            def path = row.vcf.startsWith('/') || row.vcf.contains('://') ? row.vcf : "${sheet.parent}/${row.vcf}"
            file(path, checkIfExists: true)
        }
    } else if (spec.contains('*') || spec.contains('?') || spec.contains('[')) {
        // the indexes a glob also matches are not VCFs (as seqgx.genome.variants.resolve_vcfs)
        vcfs = files(spec).findAll { !(it.name ==~ /.*\.(tbi|csi)$/) }.sort { it.name }
        if (!vcfs) {
            error("No VCF matches '${spec}'; check the pattern (quote it on the command line)")
        }
    } else {
        vcfs = [file(spec, checkIfExists: true)]
    }
    return vcfs.unique { it.toString() }.collect { [it, indexOf(it, ['.tbi', '.csi'])] }
}

/* The VCF contig of a batch file of `seqgx genes` (one chromosome per batch; '' without records). */
def batchVcfContig(batch) {
    def lines = batch.readLines()
    def column = lines ? (lines[0].split('\t') as List).indexOf('vcf_contig') : -1
    def row = lines.size() > 1 ? lines[1].split('\t', -1) as List : []
    return column >= 0 && column < row.size() ? row[column] : ''
}

/* check/vcfs.tsv of `seqgx check-inputs` as a map: VCF contig -> file name. */
def vcfFileOfContig(table) {
    return table.splitCsv(header: true, sep: '\t').collectEntries { [(it.vcf_contig): file(it.vcf).name] }
}

/* The [vcf, index] a batch's task stages: the VCF of the batch's chromosome (check/vcfs.tsv), any file
 * when the chromosome has no VCF records (personalize then finds no variants). */
def vcfOfBatch(batch, vcf_table, List vcfs) {
    def by_name = vcfs.collectEntries { [(it[0].name): it] }
    return by_name[vcfFileOfContig(vcf_table)[batchVcfContig(batch)] ?: vcfs[0][0].name]
}

/* A batch of a tissue for STATS / ATTRIBUTION_STATS: [id, haplotypes, predictions, ism, vcf, index,
 * tissue meta, expression, covariates] as [meta, ...]. meta.id names its tables (<tissue>.<batch> with a
 * samplesheet, where every tissue's tables of a batch meet in one task), meta.batch and meta.tissue say
 * what they are, meta.publish_dir where they are published (<root>/<tissue> with a samplesheet). */
def batchOfTissue(String root, List row) {
    def (id, haplotypes, predictions, ism, vcf, index, tissue, expression, covariates) = row
    return [tissue + [id: tissue.samplesheet ? "${tissue.tissue}.${id}" : id, batch: id,
                      publish_dir: tissue.samplesheet ? "${root}/${tissue.tissue}" : root],
            haplotypes, predictions, ism, vcf, index, expression, covariates]
}

/* The gene id of a per-gene file (<gene_id>.haplotypes.npz, .predictions.tsv, .reference.json, ...):
 * gene ids hold dots (versions), so the known suffixes are removed, not everything after a dot. */
def geneOf(path) {
    return path.name.replaceFirst(/\.(haplotypes\.npz|predictions\.tsv|reference\.json|reference_tracks\.tsv)$/, '')
}

/* STATS tables ([meta, table]) as [tissue meta, its tables sorted by name]: the same order, so -resume,
 * in every run. The tissue comes from the task's meta map, never from a file name. */
def byTissue(tables) {
    return tables.map { meta, f -> [[id: meta.tissue, tissue: meta.tissue, samplesheet: meta.samplesheet], f] }
        .groupTuple().map { k, fs -> [k, fs.sort { it.name }] }
}

/* ATTRIBUTION_STATS tables ([meta, table]) as [batch, every tissue's tables of it, sorted by name]. */
def byBatch(tables) {
    return tables.map { meta, f -> [meta.batch, f] }.groupTuple().map { k, fs -> [k, fs.sort { it.name }] }
}

/*
 * One log line when the local executor caps the label requests (conf/base.config's resourceLimits: the
 * machine's CPUs and memory unless --max_cpus / --max_memory are given), naming what it capped.
 */
def logLocalResourceCaps(workflowMeta) {
    def config = workflowMeta.session.config.process ?: [:]
    def executor = config.executor ?: 'local'
    if (executor != 'local') {
        return
    }
    def limits = directiveValue(config.resourceLimits, executor) ?: [:]
    def maxCpus = limits.cpus ? limits.cpus as int : null
    def maxMemory = limits.memory ? limits.memory as nextflow.util.MemoryUnit : null
    def capped = []
    config.findAll { key, value -> key.toString().startsWith('withLabel:') && value instanceof Map }.each { key, value ->
        def label = key.toString().substring('withLabel:'.length())
        def parts = []
        def cpus = directiveValue(value.cpus, executor)
        def memory = directiveValue(value.memory, executor)
        if (maxCpus && cpus && (cpus as int) > maxCpus) {
            parts << "${cpus} -> ${maxCpus} CPUs"
        }
        if (maxMemory && memory && (memory as nextflow.util.MemoryUnit) > maxMemory) {
            parts << "${memory} -> ${maxMemory}"
        }
        if (parts) {
            capped << "${label} ${parts.join(', ')}"
        }
    }
    if (capped) {
        log.info("Local executor: requests capped to ${maxCpus} CPUs and ${maxMemory} (this machine, or --max_cpus / --max_memory): ${capped.join('; ')}")
    }
}

/* A process directive from the config as a first attempt of a task would see it (closures evaluated). */
def directiveValue(value, String executor) {
    if (!(value instanceof Closure)) {
        return value
    }
    def closure = value.clone()
    closure.delegate = [task: [attempt: 1, executor: executor], params: params]
    closure.resolveStrategy = Closure.DELEGATE_FIRST
    return closure.call()
}

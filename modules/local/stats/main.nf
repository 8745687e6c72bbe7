process STATS {
    tag "${meta.id}"
    label 'process_low'
    // stats/<meta.id>.* -> <meta.publish_dir>/<meta.batch>.* (here, not in conf/modules.config: the
    // config linter knows no task inputs)
    publishDir "${params.outdir}/${meta.publish_dir}", mode: 'copy', pattern: 'stats/*',
               saveAs: { f -> meta.batch + f.substring("stats/${meta.id}".length()) }

    input:
    // One batch for one tissue. meta: id (the tables' name: <tissue>.<batch> with a tissues samplesheet,
    // <batch> without), batch, tissue, samplesheet (whether the run has one), stats_args (the plan's
    // --tissue/--readouts of the tissue). ism is [] in phase 1 (STATS: every gene, no attribution) and
    // the batch's ISM tables in phase 2 (ATTRIBUTION_STATS: the selected genes); vcf and vcf_index are []
    // unless the PrediXcan baseline (predictdb) reads genotypes. expression: TSV or tensorQTL phenotype
    // BED; covariates [] when none (with them every R is a partial correlation).
    tuple val(meta), path(haplotypes), path(predictions), path(ism), path(vcf), path(vcf_index),
          path(expression), path(covariates)
    path predictdb          // [] when not given
    path finemapped         // [] when not given: drivers annotated with the fine-mapped causal variants

    output:
    // Named by meta.id: every tissue's tables meet in ATTRIBUTION_GENES and MOTIFS without a name clash
    tuple val(meta), path("stats/${meta.id}.genes.tsv"),    emit: genes
    tuple val(meta), path("stats/${meta.id}.drivers.tsv"),  emit: drivers
    tuple val(meta), path("stats/${meta.id}.genedata.npz"), emit: genedata   // the report's gene pages
    path 'versions.yml',                   emit: versions

    script:
    def args = task.ext.args ?: ''   // null test, seed, min_samples, elastic net (conf/modules.config)
    def db   = predictdb ? "--predictdb ${predictdb} --vcf ${vcf}" : ''
    def attr = ism ? "--ism ${ism}" : ''
    def cov  = covariates ? "--covariates ${covariates}" : ''
    def fine = finemapped ? "--finemapped ${finemapped}" : ''
    """
    seqgx stats \\
        --haplotypes ${haplotypes} --predictions ${predictions} ${attr} \\
        --expression ${expression} ${cov} ${meta.stats_args} ${fine} ${db} ${args} \\
        --batch-name ${meta.id} --threads ${task.cpus} --out stats

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p stats
    touch stats/${meta.id}.{genes.tsv,drivers.tsv,genedata.npz}
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}

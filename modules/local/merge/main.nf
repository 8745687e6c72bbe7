process MERGE {
    tag "${meta.tissue}"
    label 'process_single'

    input:
    // One tissue (meta: id, tissue ('default' without a tissues samplesheet), samplesheet): phase 1's
    // tables of every gene (<batch>.genes.tsv and drivers), phase 2's of the selected genes ([] when
    // none was selected)
    tuple val(meta), path(genes_tables), path(drivers_tables), path(attribution_genes_tables),
          path(attribution_drivers_tables)
    path selection                  // attribution_genes.tsv; [] for a one-phase merge (nf-test)
    path cost_files                 // PREDICT's *.reference.json, ISM's *.ism.json, MOTIFS' *.motifs.json
    path motif_tables               // MOTIFS' per-batch tables ([] without the motif analysis)
    path genes
    path finemapped                 // [] when not given: the fraction of fine-mapped genes driven by the causal variant

    output:
    // With tissues under assessment/<tissue>/
    tuple val(meta), path("${meta.samplesheet ? 'assessment/' + meta.tissue : 'assessment'}/*.{tsv,json}"), emit: tables   // what REPORT reads, per tissue
    path "${meta.samplesheet ? 'assessment/' + meta.tissue : 'assessment'}/genes.tsv",     emit: genes
    path "${meta.samplesheet ? 'assessment/' + meta.tissue : 'assessment'}/drivers.tsv",   emit: drivers
    path "${meta.samplesheet ? 'assessment/' + meta.tissue : 'assessment'}/summary.json",  emit: summary
    path "${meta.samplesheet ? 'assessment/' + meta.tissue : 'assessment'}/attribution_genes.tsv", optional: true, emit: selection
    path "${meta.samplesheet ? 'assessment/' + meta.tissue : 'assessment'}/{driver_motifs,seqlets,motif_snvs,motif_enrichment}.tsv", optional: true, emit: motifs
    path "${meta.samplesheet ? 'assessment/' + meta.tissue : 'assessment'}/motif_{clusters.meme,summary.json}", optional: true,     emit: motif_summary
    path 'versions.yml',             emit: versions

    script:
    def args   = task.ext.args ?: ''   // fdr_alpha (conf/modules.config, generated from the registry)
    def phases = selection ? "--attribution ${attribution_genes_tables} --selection ${selection}" : ''
    def costs  = cost_files ? "--costs ${cost_files}" : ''
    def fine   = finemapped ? "--finemapped ${finemapped}" : ''
    def driver_motifs = [motif_tables].flatten().findAll { it.name.endsWith('.driver_motifs.tsv') }
    def motifs = driver_motifs ? "--motifs ${driver_motifs.join(' ')}" : ''
    """
    seqgx merge \\
        --genes ${genes_tables} --drivers ${drivers_tables} ${phases} ${costs} ${motifs} --annotation ${genes} ${fine} \\
        ${args} --out ${meta.samplesheet ? 'assessment/' + meta.tissue : 'assessment'}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p ${meta.samplesheet ? 'assessment/' + meta.tissue : 'assessment'}
    touch ${meta.samplesheet ? 'assessment/' + meta.tissue : 'assessment'}/genes.tsv ${meta.samplesheet ? 'assessment/' + meta.tissue : 'assessment'}/drivers.tsv
    echo '{}' > ${meta.samplesheet ? 'assessment/' + meta.tissue : 'assessment'}/summary.json
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
